-- Partner API node classes of each worker.
--
-- A worker's GET /object_info marks the nodes that call paid services with
-- an account key ("api_node": true). They are kept next to node_types so
-- that workflow validation refuses them by what the workers say, not only
-- by a built-in list of names.

ALTER TABLE workers ADD COLUMN api_node_types text[];
