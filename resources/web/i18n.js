/* i18n.js: the phone page's translations
 *
 * Keys are the English strings, as with gettext; {0}, {1}… are filled in
 * by t(). The language is the browser's (navigator.languages); English is
 * the fallback. Elements with a data-t attribute have their text
 * translated on load.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
'use strict';

const CATALOGUES = {
  zh: {
    ['To label images on this phone, open “Pair a Phone…” in the desktop app and scan its ' +
     'QR code with the camera.']:
      '要在这部手机上标注图片，请在桌面应用中打开“配对手机…”，用相机扫描其中的二维码。',
    'Or paste the pairing link or code': '或粘贴配对链接或配对码',
    'Sign in': '登录',
    'Tasks': '任务',
    'Sign out': '退出登录',
    'No task has images to label yet. This list updates by itself.':
      '还没有可标注图片的任务。此列表会自动更新。',
    'Undo': '撤销',
    'Worst': '最差',
    'Best': '最佳',
    'Spam': '垃圾',
    'All labelled': '全部标注完成',
    'Nothing is left for you in this task right now.': '此任务目前没有留给你的批次。',
    'Back to tasks': '返回任务列表',
    'Your sign-in has ended; scan a new QR code in the desktop app.':
      '登录已失效；请在桌面应用中扫描新的二维码。',
    ['Offline: {0} labels saved on this phone, sent when the network returns']:
      '离线：{0} 个标注已保存在本机，联网后发送',
    ['Offline: 1 label saved on this phone, sent when the network returns']:
      '离线：1 个标注已保存在本机，联网后发送',
    'Offline: waiting for the network': '离线：正在等待网络',
    'No network; the list will load when it returns': '没有网络；联网后会加载列表',
    '{0} of {1} batches labelled · {2} by you': '已标注 {0}/{1} 个批次 · 你标注了 {2} 个',
    '{0} of {1} labelled · {2} by you': '已标注 {0}/{1} · 你 {2} 个',
    'Waiting for the network…': '正在等待网络…',
    'Image {0} of {1}': '第 {0} 张，共 {1} 张',
    'Image {0}': '第 {0} 张',
    'Seed {0}': '种子 {0}',
    'Seed {0} · image {1} of {2}': '种子 {0} · 第 {1} 张，共 {2} 张',
    'A label could not be saved: {0}': '有一个标注无法保存：{0}',
    'Saved on this phone. The next batch comes when the network returns.':
      '已保存在本机。联网后会显示下一批。',
    'Label the batch again to change it': '重新标注此批次即可修改',
    'Someone else took that batch; here is another one': '该批次已被他人领取，这是另一批',
    'Paste the link under the QR code, or scan it.':
      '请粘贴二维码下方的链接，或扫描二维码。',
    'No network: connect to the same network as the desktop and try again.':
      '没有网络：请连接到与桌面电脑相同的网络后重试。',
  },
};

function pickCatalogue () {
  for (const lang of navigator.languages || [navigator.language]) {
    const base = String(lang).toLowerCase().split('-')[0];

    if (CATALOGUES[base])
      return { lang: base, strings: CATALOGUES[base] };
  }
  return { lang: 'en', strings: {} };
}

const catalogue = pickCatalogue();

/* The translation of @text with {0}, {1}… replaced by the arguments. */
function t (text, ...args) {
  const translated = catalogue.strings[text] || text;

  return translated.replace(/\{(\d+)\}/g, (m, i) => String(args[Number(i)]));
}

function translatePage () {
  document.documentElement.lang = catalogue.lang;
  for (const el of document.querySelectorAll('[data-t]'))
    el.textContent = t(el.textContent.trim().replace(/\s+/g, ' '));
}
