/* cdl-sim-nodes.c: the node types and model files the simulated worker offers
 *
 * The table mirrors the shapes a ComfyUI 0.3.64 server reports; the tooltip
 * and description texts are our own.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "cdl-sim"

#include "config.h"

#include <string.h>

#include "cdl-sim-nodes.h"

/* Model files, one list per folder of GET /models. */

static const char * const checkpoint_files[] = {
  "sd15.safetensors", "sdxl.safetensors", NULL
};
static const char * const diffusion_model_files[] = {
  "flux1-dev.safetensors", "flux1-schnell.safetensors", NULL
};
static const char * const text_encoder_files[] = {
  "clip_l.safetensors", "t5xxl_fp8_e4m3fn.safetensors", NULL
};
static const char * const vae_files[] = {
  "ae.safetensors", "sdxl_vae.safetensors", NULL
};
static const char * const lora_files[] = {
  "detail-tweaker-xl.safetensors", "film-grain-sd15.safetensors", NULL
};
static const char * const controlnet_files[] = {
  "control-canny-sdxl.safetensors", "control-depth-sdxl.safetensors", NULL
};
static const char * const config_files[] = {
  "v1-inference.yaml", "v2-inference.yaml", NULL
};
static const char * const no_files[] = { NULL };

static const struct
{
  const char         *folder;
  const char * const *files;
} model_folders[] = {
  { "checkpoints", checkpoint_files },
  { "configs", config_files },
  { "loras", lora_files },
  { "vae", vae_files },
  { "text_encoders", text_encoder_files },
  { "diffusion_models", diffusion_model_files },
  { "clip_vision", no_files },
  { "style_models", no_files },
  { "embeddings", no_files },
  { "diffusers", no_files },
  { "vae_approx", no_files },
  { "controlnet", controlnet_files },
  { "gligen", no_files },
  { "upscale_models", no_files },
  { "custom_nodes", no_files },
  { "hypernetworks", no_files },
  { "photomaker", no_files },
  { "classifiers", no_files },
  { "model_patches", no_files },
  { "audio_encoders", no_files },
};

static const char * const input_files[] = { "example.png", NULL };

/* Choices shared by several nodes. */

static const char * const sampler_names[] = {
  "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp",
  "heun", "heunpp2", "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast",
  "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp",
  "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp",
  "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun",
  "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm",
  "lcm", "ipndm", "ipndm_v", "deis", "res_multistep",
  "res_multistep_cfg_pp", "res_multistep_ancestral",
  "res_multistep_ancestral_cfg_pp", "gradient_estimation",
  "gradient_estimation_cfg_pp", "er_sde", "seeds_2", "seeds_3",
  "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2", NULL
};
static const char * const scheduler_names[] = {
  "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta",
  "normal", "linear_quadratic", "kl_optimal", NULL
};
static const char * const enable_disable[] = { "enable", "disable", NULL };
static const char * const disable_enable[] = { "disable", "enable", NULL };
static const char * const crop_methods[] = { "disabled", "center", NULL };
static const char * const latent_upscale_methods[] = {
  "nearest-exact", "bilinear", "area", "bicubic", "bislerp", NULL
};
static const char * const image_upscale_methods[] = {
  "nearest-exact", "bilinear", "area", "bicubic", "lanczos", NULL
};
static const char * const weight_dtypes[] = {
  "default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2", NULL
};
static const char * const dual_clip_types[] = {
  "sdxl", "sd3", "flux", "hunyuan_video", "hidream", NULL
};
static const char * const clip_devices[] = { "default", "cpu", NULL };
static const char * const seed_behaviors[] = { "random", "fixed", NULL };
static const char * const dalle3_qualities[] = { "standard", "hd", NULL };
static const char * const dalle3_styles[] = { "natural", "vivid", NULL };
static const char * const dalle3_sizes[] = {
  "1024x1024", "1024x1792", "1792x1024", NULL
};

#define MAX_RESOLUTION 16384
#define SEED_FLAGS (CDL_SIM_INPUT_FLAG_CONTROL_AFTER | CDL_SIM_INPUT_FLAG_MAX_U64)

#define LINK(n, t, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_LINK, .type = t, .tooltip = tip }
#define OPT_LINK(n, t, tip) \
  { .name = n, .group = CDL_SIM_GROUP_OPTIONAL, .kind = CDL_SIM_INPUT_LINK, \
    .type = t, .tooltip = tip }
#define INT(n, def, lo, hi, st, fl, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_INT, .type = "INT", .default_num = def, \
    .min = lo, .max = hi, .step = st, .flags = fl, .tooltip = tip }
#define FLOAT(n, def, lo, hi, st, rd, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_FLOAT, .type = "FLOAT", \
    .default_num = def, .min = lo, .max = hi, .step = st, .round = rd, \
    .tooltip = tip }
#define STRING(n, def, fl, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_STRING, .type = "STRING", \
    .default_str = def, .flags = fl, .tooltip = tip }
#define BOOLEAN(n, def, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_BOOLEAN, .type = "BOOLEAN", \
    .default_num = def, .tooltip = tip }
#define COMBO(n, ch, def, fl, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_COMBO, .choices = ch, \
    .default_str = def, .flags = fl, .tooltip = tip }
#define OPT_COMBO(n, ch, def, fl, tip) \
  { .name = n, .group = CDL_SIM_GROUP_OPTIONAL, .kind = CDL_SIM_INPUT_COMBO, \
    .choices = ch, .default_str = def, .flags = fl, .tooltip = tip }
#define COMBO3(n, ch, def, tip) \
  { .name = n, .kind = CDL_SIM_INPUT_COMBO_V3, .type = "COMBO", \
    .choices = ch, .default_str = def, .tooltip = tip }
#define HIDDEN(n, t) \
  { .name = n, .group = CDL_SIM_GROUP_HIDDEN, .kind = CDL_SIM_INPUT_HIDDEN, \
    .type = t }
#define END { .name = NULL }

#define STRV(...) ((const char * const []) { __VA_ARGS__, NULL })

/* Tooltips used by several nodes. */
#define TIP_MODEL "The diffusion model that removes the noise."
#define TIP_SEED "Seed of the initial noise; the same seed gives the same image."
#define TIP_STEPS "How many denoising steps to run."
#define TIP_CFG "How strongly the sampler follows the prompt."
#define TIP_SAMPLER "The sampling algorithm."
#define TIP_SCHEDULER "How the noise level falls from step to step."
#define TIP_POSITIVE "What the image should show."
#define TIP_NEGATIVE "What the image should avoid."
#define TIP_DENOISE "How much of the input latent to replace with new content."

static const CdlSimInput ksampler_inputs[] = {
  LINK ("model", "MODEL", TIP_MODEL),
  INT ("seed", 0, 0, 0, 0, SEED_FLAGS, TIP_SEED),
  INT ("steps", 20, 1, 10000, 0, 0, TIP_STEPS),
  FLOAT ("cfg", 8.0, 0.0, 100.0, 0.1, 0.01, TIP_CFG),
  COMBO ("sampler_name", sampler_names, NULL, 0, TIP_SAMPLER),
  COMBO ("scheduler", scheduler_names, NULL, 0, TIP_SCHEDULER),
  LINK ("positive", "CONDITIONING", TIP_POSITIVE),
  LINK ("negative", "CONDITIONING", TIP_NEGATIVE),
  LINK ("latent_image", "LATENT", "The latent to denoise."),
  FLOAT ("denoise", 1.0, 0.0, 1.0, 0.01, 0, TIP_DENOISE),
  END
};

static const CdlSimInput ksampler_advanced_inputs[] = {
  LINK ("model", "MODEL", NULL),
  COMBO ("add_noise", enable_disable, NULL, 0, NULL),
  INT ("noise_seed", 0, 0, 0, 0, SEED_FLAGS, NULL),
  INT ("steps", 20, 1, 10000, 0, 0, NULL),
  FLOAT ("cfg", 8.0, 0.0, 100.0, 0.1, 0.01, NULL),
  COMBO ("sampler_name", sampler_names, NULL, 0, NULL),
  COMBO ("scheduler", scheduler_names, NULL, 0, NULL),
  LINK ("positive", "CONDITIONING", NULL),
  LINK ("negative", "CONDITIONING", NULL),
  LINK ("latent_image", "LATENT", NULL),
  INT ("start_at_step", 0, 0, 10000, 0, 0, NULL),
  INT ("end_at_step", 10000, 0, 10000, 0, 0, NULL),
  COMBO ("return_with_leftover_noise", disable_enable, NULL, 0, NULL),
  END
};

static const CdlSimInput checkpoint_loader_inputs[] = {
  COMBO ("ckpt_name", checkpoint_files, NULL, 0,
         "The checkpoint file to load."),
  END
};

static const CdlSimInput clip_text_encode_inputs[] = {
  STRING ("text", NULL,
          CDL_SIM_INPUT_FLAG_MULTILINE | CDL_SIM_INPUT_FLAG_DYNAMIC_PROMPTS,
          "The text to encode."),
  LINK ("clip", "CLIP", "The text encoder to use."),
  END
};

static const CdlSimInput empty_latent_inputs[] = {
  INT ("width", 512, 16, MAX_RESOLUTION, 8, 0, "Image width in pixels."),
  INT ("height", 512, 16, MAX_RESOLUTION, 8, 0, "Image height in pixels."),
  INT ("batch_size", 1, 1, 4096, 0, 0, "How many latents to make at once."),
  END
};

static const CdlSimInput vae_decode_inputs[] = {
  LINK ("samples", "LATENT", "The latent to turn into pixels."),
  LINK ("vae", "VAE", "The VAE that decodes the latent."),
  END
};

static const CdlSimInput save_image_inputs[] = {
  LINK ("images", "IMAGE", "The images to write to the output folder."),
  STRING ("filename_prefix", "ComfyUI", 0,
          "Start of the file names; may contain %date:yyyy-MM-dd% style "
          "fields."),
  HIDDEN ("prompt", "PROMPT"),
  HIDDEN ("extra_pnginfo", "EXTRA_PNGINFO"),
  END
};

static const CdlSimInput preview_image_inputs[] = {
  LINK ("images", "IMAGE", NULL),
  HIDDEN ("prompt", "PROMPT"),
  HIDDEN ("extra_pnginfo", "EXTRA_PNGINFO"),
  END
};

static const CdlSimInput load_image_inputs[] = {
  COMBO ("image", input_files, NULL, CDL_SIM_INPUT_FLAG_IMAGE_UPLOAD, NULL),
  END
};

static const CdlSimInput latent_batch_seed_behavior_inputs[] = {
  LINK ("samples", "LATENT", NULL),
  COMBO3 ("seed_behavior", seed_behaviors, "fixed", NULL),
  END
};

static const CdlSimInput random_noise_inputs[] = {
  INT ("noise_seed", 0, 0, 0, 0, SEED_FLAGS, NULL),
  END
};

static const CdlSimInput sampler_custom_advanced_inputs[] = {
  LINK ("noise", "NOISE", NULL),
  LINK ("guider", "GUIDER", NULL),
  LINK ("sampler", "SAMPLER", NULL),
  LINK ("sigmas", "SIGMAS", NULL),
  LINK ("latent_image", "LATENT", NULL),
  END
};

static const CdlSimInput sampler_custom_inputs[] = {
  LINK ("model", "MODEL", NULL),
  BOOLEAN ("add_noise", 1, NULL),
  INT ("noise_seed", 0, 0, 0, 0, SEED_FLAGS, NULL),
  FLOAT ("cfg", 8.0, 0.0, 100.0, 0.1, 0.01, NULL),
  LINK ("positive", "CONDITIONING", NULL),
  LINK ("negative", "CONDITIONING", NULL),
  LINK ("sampler", "SAMPLER", NULL),
  LINK ("sigmas", "SIGMAS", NULL),
  LINK ("latent_image", "LATENT", NULL),
  END
};

static const CdlSimInput ksampler_select_inputs[] = {
  COMBO ("sampler_name", sampler_names, NULL, 0, NULL),
  END
};

static const CdlSimInput basic_scheduler_inputs[] = {
  LINK ("model", "MODEL", NULL),
  COMBO ("scheduler", scheduler_names, NULL, 0, NULL),
  INT ("steps", 20, 1, 10000, 0, 0, NULL),
  FLOAT ("denoise", 1.0, 0.0, 1.0, 0.01, 0, NULL),
  END
};

static const CdlSimInput basic_guider_inputs[] = {
  LINK ("model", "MODEL", NULL),
  LINK ("conditioning", "CONDITIONING", NULL),
  END
};

static const CdlSimInput cfg_guider_inputs[] = {
  LINK ("model", "MODEL", NULL),
  LINK ("positive", "CONDITIONING", NULL),
  LINK ("negative", "CONDITIONING", NULL),
  FLOAT ("cfg", 8.0, 0.0, 100.0, 0.1, 0.01, NULL),
  END
};

static const CdlSimInput unet_loader_inputs[] = {
  COMBO ("unet_name", diffusion_model_files, NULL, 0, NULL),
  COMBO ("weight_dtype", weight_dtypes, NULL, 0, NULL),
  END
};

static const CdlSimInput dual_clip_loader_inputs[] = {
  COMBO ("clip_name1", text_encoder_files, NULL, 0, NULL),
  COMBO ("clip_name2", text_encoder_files, NULL, 0, NULL),
  COMBO ("type", dual_clip_types, NULL, 0, NULL),
  OPT_COMBO ("device", clip_devices, NULL, CDL_SIM_INPUT_FLAG_ADVANCED, NULL),
  END
};

static const CdlSimInput vae_loader_inputs[] = {
  COMBO ("vae_name", vae_files, NULL, 0, NULL),
  END
};

static const CdlSimInput flux_guidance_inputs[] = {
  LINK ("conditioning", "CONDITIONING", NULL),
  FLOAT ("guidance", 3.5, 0.0, 100.0, 0.1, 0, NULL),
  END
};

static const CdlSimInput empty_sd3_latent_inputs[] = {
  INT ("width", 1024, 16, MAX_RESOLUTION, 16, 0, NULL),
  INT ("height", 1024, 16, MAX_RESOLUTION, 16, 0, NULL),
  INT ("batch_size", 1, 1, 4096, 0, 0, NULL),
  END
};

static const CdlSimInput lora_loader_inputs[] = {
  LINK ("model", "MODEL", "The model the LoRA is applied to."),
  LINK ("clip", "CLIP", "The text encoder the LoRA is applied to."),
  COMBO ("lora_name", lora_files, NULL, 0, "The LoRA file."),
  FLOAT ("strength_model", 1.0, -100.0, 100.0, 0.01, 0,
         "How strongly to change the model; negative values invert it."),
  FLOAT ("strength_clip", 1.0, -100.0, 100.0, 0.01, 0,
         "How strongly to change the text encoder."),
  END
};

static const CdlSimInput controlnet_loader_inputs[] = {
  COMBO ("control_net_name", controlnet_files, NULL, 0, NULL),
  END
};

static const CdlSimInput controlnet_apply_advanced_inputs[] = {
  LINK ("positive", "CONDITIONING", NULL),
  LINK ("negative", "CONDITIONING", NULL),
  LINK ("control_net", "CONTROL_NET", NULL),
  LINK ("image", "IMAGE", NULL),
  FLOAT ("strength", 1.0, 0.0, 10.0, 0.01, 0, NULL),
  FLOAT ("start_percent", 0.0, 0.0, 1.0, 0.001, 0, NULL),
  FLOAT ("end_percent", 1.0, 0.0, 1.0, 0.001, 0, NULL),
  OPT_LINK ("vae", "VAE", NULL),
  END
};

static const CdlSimInput latent_upscale_inputs[] = {
  LINK ("samples", "LATENT", NULL),
  COMBO ("upscale_method", latent_upscale_methods, NULL, 0, NULL),
  INT ("width", 512, 0, MAX_RESOLUTION, 8, 0, NULL),
  INT ("height", 512, 0, MAX_RESOLUTION, 8, 0, NULL),
  COMBO ("crop", crop_methods, NULL, 0, NULL),
  END
};

static const CdlSimInput image_scale_inputs[] = {
  LINK ("image", "IMAGE", NULL),
  COMBO ("upscale_method", image_upscale_methods, NULL, 0, NULL),
  INT ("width", 512, 0, MAX_RESOLUTION, 1, 0, NULL),
  INT ("height", 512, 0, MAX_RESOLUTION, 1, 0, NULL),
  COMBO ("crop", crop_methods, NULL, 0, NULL),
  END
};

static const CdlSimInput dalle3_inputs[] = {
  STRING ("prompt", "", CDL_SIM_INPUT_FLAG_MULTILINE,
          "Text prompt sent to the remote service."),
  INT ("seed", 0, 0, 2147483647, 1, CDL_SIM_INPUT_FLAG_CONTROL_AFTER,
       "Not used by the remote service; changes it to run the node again."),
  COMBO3 ("quality", dalle3_qualities, "standard", NULL),
  COMBO3 ("style", dalle3_styles, "natural", NULL),
  COMBO3 ("size", dalle3_sizes, "1024x1024", NULL),
  HIDDEN ("auth_token_comfy_org", "AUTH_TOKEN_COMFY_ORG"),
  HIDDEN ("api_key_comfy_org", "API_KEY_COMFY_ORG"),
  HIDDEN ("unique_id", "UNIQUE_ID"),
  END
};

static const CdlSimNode nodes[] = {
  {
    .name = "KSampler",
    .display_name = "KSampler",
    .description = "Denoises a latent image with a model, guided by "
                   "positive and negative conditioning.",
    .python_module = "nodes",
    .category = "sampling",
    .inputs = ksampler_inputs,
    .outputs = STRV ("LATENT"),
    .output_tooltips = STRV ("The denoised latent."),
  },
  {
    .name = "KSamplerAdvanced",
    .display_name = "KSampler (Advanced)",
    .description = "",
    .python_module = "nodes",
    .category = "sampling",
    .inputs = ksampler_advanced_inputs,
    .outputs = STRV ("LATENT"),
  },
  {
    .name = "CheckpointLoaderSimple",
    .display_name = "Load Checkpoint",
    .description = "Loads a diffusion model checkpoint with its text "
                   "encoder and VAE.",
    .python_module = "nodes",
    .category = "loaders",
    .inputs = checkpoint_loader_inputs,
    .outputs = STRV ("MODEL", "CLIP", "VAE"),
    .output_tooltips = STRV ("The model that denoises latents.",
                             "The text encoder for prompts.",
                             "The VAE between pixels and latents."),
  },
  {
    .name = "CLIPTextEncode",
    .display_name = "CLIP Text Encode (Prompt)",
    .description = "Turns a text prompt into conditioning for a sampler.",
    .python_module = "nodes",
    .category = "conditioning",
    .inputs = clip_text_encode_inputs,
    .outputs = STRV ("CONDITIONING"),
    .output_tooltips = STRV ("The encoded prompt."),
  },
  {
    .name = "EmptyLatentImage",
    .display_name = "Empty Latent Image",
    .description = "Makes a batch of empty latents to start sampling from.",
    .python_module = "nodes",
    .category = "latent",
    .inputs = empty_latent_inputs,
    .outputs = STRV ("LATENT"),
    .output_tooltips = STRV ("The empty latent batch."),
  },
  {
    .name = "VAEDecode",
    .display_name = "VAE Decode",
    .description = "Decodes latents back into images.",
    .python_module = "nodes",
    .category = "latent",
    .inputs = vae_decode_inputs,
    .outputs = STRV ("IMAGE"),
    .output_tooltips = STRV ("The decoded images."),
  },
  {
    .name = "SaveImage",
    .display_name = "Save Image",
    .description = "Writes the images to the output folder.",
    .python_module = "nodes",
    .category = "image",
    .inputs = save_image_inputs,
    .outputs = STRV (NULL),
    .output_node = TRUE,
  },
  {
    .name = "PreviewImage",
    .display_name = "Preview Image",
    .description = "Writes the images to the temporary folder.",
    .python_module = "nodes",
    .category = "image",
    .inputs = preview_image_inputs,
    .outputs = STRV (NULL),
    .output_node = TRUE,
  },
  {
    .name = "LoadImage",
    .display_name = "Load Image",
    .description = "",
    .python_module = "nodes",
    .category = "image",
    .inputs = load_image_inputs,
    .outputs = STRV ("IMAGE", "MASK"),
  },
  {
    .name = "LatentBatchSeedBehavior",
    .display_name = "LatentBatchSeedBehavior",
    .description = "",
    .python_module = "comfy_extras.nodes_latent",
    .category = "latent/advanced",
    .inputs = latent_batch_seed_behavior_inputs,
    .outputs = STRV ("LATENT"),
    .v3 = TRUE,
  },
  {
    .name = "RandomNoise",
    .display_name = "RandomNoise",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling/noise",
    .inputs = random_noise_inputs,
    .outputs = STRV ("NOISE"),
  },
  {
    .name = "SamplerCustomAdvanced",
    .display_name = "SamplerCustomAdvanced",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling",
    .inputs = sampler_custom_advanced_inputs,
    .outputs = STRV ("LATENT", "LATENT"),
    .output_names = STRV ("output", "denoised_output"),
  },
  {
    .name = "SamplerCustom",
    .display_name = "SamplerCustom",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling",
    .inputs = sampler_custom_inputs,
    .outputs = STRV ("LATENT", "LATENT"),
    .output_names = STRV ("output", "denoised_output"),
  },
  {
    .name = "KSamplerSelect",
    .display_name = "KSamplerSelect",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling/samplers",
    .inputs = ksampler_select_inputs,
    .outputs = STRV ("SAMPLER"),
  },
  {
    .name = "BasicScheduler",
    .display_name = "BasicScheduler",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling/schedulers",
    .inputs = basic_scheduler_inputs,
    .outputs = STRV ("SIGMAS"),
  },
  {
    .name = "BasicGuider",
    .display_name = "BasicGuider",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling/guiders",
    .inputs = basic_guider_inputs,
    .outputs = STRV ("GUIDER"),
  },
  {
    .name = "CFGGuider",
    .display_name = "CFGGuider",
    .description = "",
    .python_module = "comfy_extras.nodes_custom_sampler",
    .category = "sampling/custom_sampling/guiders",
    .inputs = cfg_guider_inputs,
    .outputs = STRV ("GUIDER"),
  },
  {
    .name = "UNETLoader",
    .display_name = "Load Diffusion Model",
    .description = "",
    .python_module = "nodes",
    .category = "advanced/loaders",
    .inputs = unet_loader_inputs,
    .outputs = STRV ("MODEL"),
  },
  {
    .name = "DualCLIPLoader",
    .display_name = "DualCLIPLoader",
    .description = "Loads two text encoders for models that use a pair, "
                   "such as SDXL, SD3 and Flux.",
    .python_module = "nodes",
    .category = "advanced/loaders",
    .inputs = dual_clip_loader_inputs,
    .outputs = STRV ("CLIP"),
  },
  {
    .name = "VAELoader",
    .display_name = "Load VAE",
    .description = "",
    .python_module = "nodes",
    .category = "loaders",
    .inputs = vae_loader_inputs,
    .outputs = STRV ("VAE"),
  },
  {
    .name = "FluxGuidance",
    .display_name = "FluxGuidance",
    .description = "",
    .python_module = "comfy_extras.nodes_flux",
    .category = "advanced/conditioning/flux",
    .inputs = flux_guidance_inputs,
    .outputs = STRV ("CONDITIONING"),
  },
  {
    .name = "EmptySD3LatentImage",
    .display_name = "EmptySD3LatentImage",
    .description = "",
    .python_module = "comfy_extras.nodes_sd3",
    .category = "latent/sd3",
    .inputs = empty_sd3_latent_inputs,
    .outputs = STRV ("LATENT"),
  },
  {
    .name = "LoraLoader",
    .display_name = "Load LoRA",
    .description = "Applies a LoRA to a model and its text encoder.",
    .python_module = "nodes",
    .category = "loaders",
    .inputs = lora_loader_inputs,
    .outputs = STRV ("MODEL", "CLIP"),
    .output_tooltips = STRV ("The changed model.",
                             "The changed text encoder."),
  },
  {
    .name = "ControlNetLoader",
    .display_name = "Load ControlNet Model",
    .description = "",
    .python_module = "nodes",
    .category = "loaders",
    .inputs = controlnet_loader_inputs,
    .outputs = STRV ("CONTROL_NET"),
  },
  {
    .name = "ControlNetApplyAdvanced",
    .display_name = "Apply ControlNet",
    .description = "",
    .python_module = "nodes",
    .category = "conditioning/controlnet",
    .inputs = controlnet_apply_advanced_inputs,
    .outputs = STRV ("CONDITIONING", "CONDITIONING"),
    .output_names = STRV ("positive", "negative"),
  },
  {
    .name = "LatentUpscale",
    .display_name = "Upscale Latent",
    .description = "",
    .python_module = "nodes",
    .category = "latent",
    .inputs = latent_upscale_inputs,
    .outputs = STRV ("LATENT"),
  },
  {
    .name = "ImageScale",
    .display_name = "Upscale Image",
    .description = "",
    .python_module = "nodes",
    .category = "image/upscaling",
    .inputs = image_scale_inputs,
    .outputs = STRV ("IMAGE"),
  },
  {
    /* A partner node: it needs a comfy.org account and sends the prompt
     * to a paid remote service. */
    .name = "OpenAIDalle3",
    .display_name = "OpenAI DALL\302\267E 3",
    .description = "Generates an image through a remote paid service.",
    .python_module = "comfy_api_nodes.nodes_openai",
    .category = "api node/image/OpenAI",
    .inputs = dalle3_inputs,
    .outputs = STRV ("IMAGE"),
    .v3 = TRUE,
    .api_node = TRUE,
  },
};

const CdlSimNode *
cdl_sim_nodes_get_all (guint *n_nodes)
{
  if (n_nodes != NULL)
    *n_nodes = G_N_ELEMENTS (nodes);

  return nodes;
}

const CdlSimNode *
cdl_sim_nodes_lookup (const char *class_type)
{
  g_return_val_if_fail (class_type != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    {
      if (g_str_equal (nodes[i].name, class_type))
        return &nodes[i];
    }

  return NULL;
}

const CdlSimInput *
cdl_sim_node_find_input (const CdlSimNode *node,
                         const char       *name)
{
  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);

  for (const CdlSimInput *in = node->inputs; in->name != NULL; in++)
    {
      if (g_str_equal (in->name, name))
        return in;
    }

  return NULL;
}

guint
cdl_sim_node_get_n_outputs (const CdlSimNode *node)
{
  g_return_val_if_fail (node != NULL, 0);

  return g_strv_length ((char **) node->outputs);
}

const char * const *
cdl_sim_model_folders (void)
{
  static const char *folders[G_N_ELEMENTS (model_folders) + 1];
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      for (guint i = 0; i < G_N_ELEMENTS (model_folders); i++)
        folders[i] = model_folders[i].folder;
      g_once_init_leave (&done, 1);
    }

  return folders;
}

const char * const *
cdl_sim_model_files (const char *folder)
{
  g_return_val_if_fail (folder != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (model_folders); i++)
    {
      if (g_str_equal (model_folders[i].folder, folder))
        return model_folders[i].files;
    }

  return NULL;
}

/* JSON text. ComfyUI answers through Python's json module, so we write
 * ", " and ": " between items, \u escapes for anything outside ASCII, and
 * seeds' maximum as an exact integer literal (json-glib could not hold
 * 2^64 - 1). */

void
cdl_sim_json_append_string (GString    *out,
                            const char *str)
{
  const char *p;

  g_return_if_fail (out != NULL);
  g_return_if_fail (str != NULL);

  g_string_append_c (out, '"');

  for (p = str; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      switch (c)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (c >= 0x20 && c < 0x7f)
            g_string_append_c (out, (char) c);
          else if (c < 0x10000)
            g_string_append_printf (out, "\\u%04x", c);
          else
            {
              gunichar v = c - 0x10000;

              g_string_append_printf (out, "\\u%04x\\u%04x",
                                      0xd800 + (v >> 10),
                                      0xdc00 + (v & 0x3ff));
            }
          break;
        }
    }

  g_string_append_c (out, '"');
}

static void
append_float (GString *out,
              double   value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  /* Shortest text that reads back as the same double, with ".0" on whole
   * numbers, as Python's repr () writes floats. */
  g_ascii_formatd (buf, sizeof buf, "%.15g", value);
  if (g_ascii_strtod (buf, NULL) != value)
    g_ascii_formatd (buf, sizeof buf, "%.17g", value);

  g_string_append (out, buf);
  if (strpbrk (buf, ".eEn") == NULL)
    g_string_append (out, ".0");
}

static void
append_strv (GString            *out,
             const char * const *strv)
{
  g_string_append_c (out, '[');
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append (out, ", ");
      cdl_sim_json_append_string (out, strv[i]);
    }
  g_string_append_c (out, ']');
}

/* Starts one "key": member of an object being written. */
static void
append_key (GString    *out,
            gboolean   *first,
            const char *key)
{
  if (!*first)
    g_string_append (out, ", ");
  *first = FALSE;

  cdl_sim_json_append_string (out, key);
  g_string_append (out, ": ");
}

/* The options object of one input, without its braces; returns FALSE
 * when there is nothing to say. */
static gboolean
append_options (GString           *out,
                const CdlSimInput *in)
{
  gboolean first = TRUE;

  switch (in->kind)
    {
    case CDL_SIM_INPUT_INT:
      append_key (out, &first, "default");
      g_string_append_printf (out, "%" G_GINT64_FORMAT,
                              (gint64) in->default_num);
      append_key (out, &first, "min");
      g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) in->min);
      append_key (out, &first, "max");
      if (in->flags & CDL_SIM_INPUT_FLAG_MAX_U64)
        g_string_append (out, CDL_SIM_SEED_MAX_TEXT);
      else
        g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) in->max);
      if (in->step != 0)
        {
          append_key (out, &first, "step");
          g_string_append_printf (out, "%" G_GINT64_FORMAT,
                                  (gint64) in->step);
        }
      break;

    case CDL_SIM_INPUT_FLOAT:
      append_key (out, &first, "default");
      append_float (out, in->default_num);
      append_key (out, &first, "min");
      append_float (out, in->min);
      append_key (out, &first, "max");
      append_float (out, in->max);
      if (in->step != 0)
        {
          append_key (out, &first, "step");
          append_float (out, in->step);
        }
      if (in->round != 0)
        {
          append_key (out, &first, "round");
          append_float (out, in->round);
        }
      break;

    case CDL_SIM_INPUT_BOOLEAN:
      append_key (out, &first, "default");
      g_string_append (out, in->default_num != 0 ? "true" : "false");
      break;

    case CDL_SIM_INPUT_STRING:
    case CDL_SIM_INPUT_COMBO:
      if (in->default_str != NULL)
        {
          append_key (out, &first, "default");
          cdl_sim_json_append_string (out, in->default_str);
        }
      break;

    case CDL_SIM_INPUT_COMBO_V3:
    case CDL_SIM_INPUT_LINK:
    case CDL_SIM_INPUT_HIDDEN:
    default:
      break;
    }

  if (in->flags & CDL_SIM_INPUT_FLAG_MULTILINE)
    {
      append_key (out, &first, "multiline");
      g_string_append (out, "true");
    }
  if (in->flags & CDL_SIM_INPUT_FLAG_DYNAMIC_PROMPTS)
    {
      append_key (out, &first, "dynamicPrompts");
      g_string_append (out, "true");
    }
  if (in->flags & CDL_SIM_INPUT_FLAG_IMAGE_UPLOAD)
    {
      append_key (out, &first, "image_upload");
      g_string_append (out, "true");
    }
  if (in->flags & CDL_SIM_INPUT_FLAG_ADVANCED)
    {
      append_key (out, &first, "advanced");
      g_string_append (out, "true");
    }
  if (in->flags & CDL_SIM_INPUT_FLAG_CONTROL_AFTER)
    {
      append_key (out, &first, "control_after_generate");
      g_string_append (out, "true");
    }
  if (in->tooltip != NULL)
    {
      append_key (out, &first, "tooltip");
      cdl_sim_json_append_string (out, in->tooltip);
    }

  if (in->kind == CDL_SIM_INPUT_COMBO_V3)
    {
      if (in->default_str != NULL)
        {
          append_key (out, &first, "default");
          cdl_sim_json_append_string (out, in->default_str);
        }
      append_key (out, &first, "multiselect");
      g_string_append (out, "false");
      append_key (out, &first, "options");
      append_strv (out, in->choices);
    }

  return !first;
}

static void
append_input (GString           *out,
              const CdlSimNode  *node,
              const CdlSimInput *in)
{
  g_autoptr(GString) options = g_string_new (NULL);
  gboolean has_options;

  if (in->kind == CDL_SIM_INPUT_HIDDEN)
    {
      cdl_sim_json_append_string (out, in->type);
      return;
    }

  has_options = append_options (options, in);

  g_string_append_c (out, '[');
  if (in->kind == CDL_SIM_INPUT_COMBO)
    append_strv (out, in->choices);
  else
    cdl_sim_json_append_string (out, in->type);

  /* V1 nodes leave out an empty options object; V3 nodes always send it. */
  if (has_options || node->v3)
    g_string_append_printf (out, ", {%s}", options->str);
  g_string_append_c (out, ']');
}

static const char * const group_names[] = { "required", "optional", "hidden" };

static void
append_inputs (GString          *out,
               const CdlSimNode *node,
               gboolean          names_only)
{
  gboolean first_group = TRUE;

  g_string_append_c (out, '{');

  for (guint g = 0; g < G_N_ELEMENTS (group_names); g++)
    {
      gboolean first = TRUE;

      for (const CdlSimInput *in = node->inputs; in->name != NULL; in++)
        {
          if (in->group != g)
            continue;

          if (first)
            {
              append_key (out, &first_group, group_names[g]);
              g_string_append_c (out, names_only ? '[' : '{');
            }

          if (names_only)
            {
              if (!first)
                g_string_append (out, ", ");
              first = FALSE;
              cdl_sim_json_append_string (out, in->name);
            }
          else
            {
              append_key (out, &first, in->name);
              append_input (out, node, in);
            }
        }

      if (!first)
        g_string_append_c (out, names_only ? ']' : '}');
    }

  g_string_append_c (out, '}');
}

void
cdl_sim_node_append_info (const CdlSimNode *node,
                          GString          *out)
{
  gboolean first = TRUE;
  guint n_outputs;

  g_return_if_fail (node != NULL);
  g_return_if_fail (out != NULL);

  n_outputs = cdl_sim_node_get_n_outputs (node);

  g_string_append_c (out, '{');

  append_key (out, &first, "input");
  append_inputs (out, node, FALSE);
  append_key (out, &first, "input_order");
  append_inputs (out, node, TRUE);

  append_key (out, &first, "output");
  append_strv (out, node->outputs);
  append_key (out, &first, "output_is_list");
  g_string_append_c (out, '[');
  for (guint i = 0; i < n_outputs; i++)
    g_string_append (out, i > 0 ? ", false" : "false");
  g_string_append_c (out, ']');
  append_key (out, &first, "output_name");
  append_strv (out, node->output_names ? node->output_names : node->outputs);

  append_key (out, &first, "name");
  cdl_sim_json_append_string (out, node->name);
  append_key (out, &first, "display_name");
  cdl_sim_json_append_string (out, node->display_name);
  append_key (out, &first, "description");
  cdl_sim_json_append_string (out, node->description);
  append_key (out, &first, "python_module");
  cdl_sim_json_append_string (out, node->python_module);
  append_key (out, &first, "category");
  cdl_sim_json_append_string (out, node->category);
  append_key (out, &first, "output_node");
  g_string_append (out, node->output_node ? "true" : "false");

  if (node->output_tooltips != NULL)
    {
      append_key (out, &first, "output_tooltips");
      append_strv (out, node->output_tooltips);
    }

  /* V3 nodes always state these; V1 nodes only when they are set. */
  if (node->v3)
    {
      append_key (out, &first, "deprecated");
      g_string_append (out, "false");
      append_key (out, &first, "experimental");
      g_string_append (out, "false");
    }
  if (node->v3 || node->api_node)
    {
      append_key (out, &first, "api_node");
      g_string_append (out, node->api_node ? "true" : "false");
    }

  g_string_append_c (out, '}');
}

char *
cdl_sim_nodes_object_info (const char * const *exclude)
{
  GString *out = g_string_new ("{");
  gboolean first = TRUE;

  for (guint i = 0; i < G_N_ELEMENTS (nodes); i++)
    {
      if (exclude != NULL && g_strv_contains (exclude, nodes[i].name))
        continue;

      append_key (out, &first, nodes[i].name);
      cdl_sim_node_append_info (&nodes[i], out);
    }

  g_string_append_c (out, '}');

  return g_string_free (out, FALSE);
}
