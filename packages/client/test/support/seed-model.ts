// The seed article's webmail client (`PnsModel`), kept verbatim in fixtures/seed-pns-model.txt, and the smallest
// host page it runs in: shims of M139, Backbone and $App as the article's code uses them.
import { readFileSync } from 'node:fs';
import { fixturesDir } from './browser.js';

export const seedFixturePath = `${fixturesDir}seed-pns-model.txt`;

export function readSeedFixture(): string {
  return readFileSync(seedFixturePath, 'utf8');
}

/**
 * Where a `//` comment of the one-line article text ends: at the space before the next statement or property,
 * i.e. before ` self.`, ` var `, ` if `, ` for `, ` return`, ` $App`, ` top.`, ` console.`, ` }` or ` <key> :`.
 * A key must be ASCII and directly followed by ` :`, so Chinese comment text (`…ID msgTypes :`) never ends early.
 */
const statementStart = / (?=self\.|var |if |for |return\b|\$App|top\.|console\.|\}|[A-Za-z_$][\w$]* :)/g;

export interface SeedTransform {
  code: string;
  /** The text of each `//` comment, `//` included, as it ends up on its own line. */
  comments: string[];
}

/**
 * The only two changes the article's code needs to run: a line break after each `//` comment (the article
 * joined the code onto one line, so a comment would swallow the rest of it), and ASCII quotes for ‘ ’.
 * Strings and block comments are skipped while looking for `//`.
 */
export function transformSeed(text: string): SeedTransform {
  let code = '';
  const comments: string[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    if (rest.startsWith('/*')) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error(`unterminated block comment at ${i}`);
      code += text.slice(i, end + 2);
      i = end + 2;
    } else if (rest.startsWith('//')) {
      statementStart.lastIndex = i + 2;
      const match = statementStart.exec(text);
      if (!match) throw new Error(`no statement after the // comment at ${i}`);
      comments.push(text.slice(i, match.index));
      code += `${text.slice(i, match.index)}\n`;
      i = match.index;
    } else if (/^['"‘’]/.test(rest)) {
      const close = rest[0] === '‘' || rest[0] === '’' ? /[‘’]/ : new RegExp(`\\${rest[0]}`);
      let end = i + 1;
      while (end < text.length && !close.test(text[end] as string)) end += text[end] === '\\' ? 2 : 1;
      code += text.slice(i, end + 1);
      i = end + 1;
    } else {
      code += text[i];
      i++;
    }
  }
  return { code: code.replace(/[‘’]/g, "'"), comments };
}

/**
 * The host page: the webmail's M139 framework, Backbone and $App, as far as `PnsModel` uses them, with `top.sid`
 * set to a pns token. It records what the model logs and triggers into `window.seedLog`.
 */
export function seedPageHtml(token: string): string {
  return `<!doctype html>
<html>
<head><meta charset="utf-8"><title>seed PnsModel</title></head>
<body>
<script>
window.seedLog = { answers: [], items: [], logs: [], triggers: [], uncaught: [] };
window.addEventListener('error', function (event) { seedLog.uncaught.push(String(event.message)); });
window.sid = ${JSON.stringify(token)};
window.M139 = {
  namespace: function (name, members) {
    var target = window;
    name.split('.').forEach(function (part) { target = target[part] = target[part] || {}; });
    for (var key in members) target[key] = members[key];
    return target;
  },
  Logger: function (options) { this.name = options && options.name; },
  RichMail: {
    API: {
      // The webmail API: an XHR, JSON answers (also on 4xx/5xx) to callback({responseData}), error/ontimeout otherwise.
      call: function (url, data, callback, options) {
        options = options || {};
        var xhr = new XMLHttpRequest();
        xhr.open(String(options.method || 'get').toUpperCase(), url, true);
        if (options.timeout) xhr.timeout = options.timeout;
        xhr.onload = function () {
          var json;
          try { json = JSON.parse(xhr.responseText); } catch (e) { if (options.error) options.error(xhr); return; }
          callback({ responseData: json, status: xhr.status });
        };
        xhr.onerror = function () { if (options.error) options.error(xhr); };
        xhr.ontimeout = function () { if (options.ontimeout) options.ontimeout(xhr); };
        xhr.send(data == null ? null : JSON.stringify(data));
      }
    }
  }
};
M139.Logger.prototype.error = function () { seedLog.logs.push(['error'].concat([].slice.call(arguments, 0, 1))); };
M139.Logger.prototype.info = function () { seedLog.logs.push(['info'].concat([].slice.call(arguments, 0, 1))); };
window.Backbone = {
  Model: {
    extend: function (proto) {
      function Model() { if (typeof this.initialize === 'function') this.initialize.apply(this, arguments); }
      for (var key in proto) Model.prototype[key] = proto[key];
      return Model;
    }
  }
};
window.$App = {
  models: {},
  sessionOut: false,
  registerModel: function (name, model) { this.models[name] = model; },
  getModel: function (name) { return this.models[name]; },
  trigger: function (name) { seedLog.triggers.push(name); },
  isSessionOut: function () { return this.sessionOut; }
};
// Starts the seed's model as the webmail did, with a spy on pnsResultHandle.
window.startSeed = function (errorInterval) {
  var model = new M2012.Model.Pns.PnsModel();
  window.seedModel = model;
  var handle = model.pnsResultHandle;
  model.pnsResultHandle = function (result) {
    seedLog.answers.push(result.c);
    for (var i = 0; i < (result.msg || []).length; i++) seedLog.items.push(result.msg[i]);
    return handle.apply(this, arguments);
  };
  if (errorInterval) model.pnsErrorInterval = errorInterval;
  model.startRequestPns();
  return {
    pnsUrl: model.pnsUrl,
    pnsErrorInterval: model.pnsErrorInterval,
    pnsTimer: model.pnsTimer,
    mailMsg: model.msgTypes && model.msgTypes.mailMsg,
    registered: $App.getModel('pnsModel') === model,
    logger: model.logger instanceof M139.Logger
  };
};
</script>
<script src="/seed-pns-model.js"></script>
</body>
</html>
`;
}
