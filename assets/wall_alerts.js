/* Alerts in the browser (layouts/wall_alerts.py says which causes; this says each once).
   - announce (the command view): a new red warning or critical incident shows a strip over the top
     of the wall and sounds a tone made here with the Web Audio API (no audio file, nothing from
     outside). The tone repeats a few times until someone presses Silence; the strip stays until
     Close. It never covers the page: it is a strip, not a dialog.
   - soundSwitch: the "Sound on / off" button; this browser remembers the choice (localStorage).
     Browsers hold sound back until someone clicks the page once: the strip then says so and
     offers the button that turns the sound on (that click is the gesture they wait for).
   - notify (dispatchers' pages): a desktop notification per new critical incident when the
     browser allows them, else a toast in the page with a button that asks for that permission.
   Each cause is announced once per browser: its key is remembered in localStorage (shared by the
   browser's tabs, kept over reloads) for two days. */
(function () {
  const ANNOUNCED = "cityops.alerts.announced";
  const NOTIFIED = "cityops.alerts.notified";
  const SOUND = "cityops.alerts.sound";
  const KEEP_MS = 2 * 24 * 3600 * 1000;
  const BEEPS = 5; // the tone sounds this many times, 2 s apart, unless silenced
  const SHOWN = 3; // causes listed in the strip; the others are counted
  let audio = null;
  let beeping = null;

  function remembered(name) {
    try {
      return JSON.parse(window.localStorage.getItem(name)) || {};
    } catch (error) {
      return {};
    }
  }

  // The keys not announced yet; they are remembered at once (another tab then skips them).
  function firstTime(name, keys) {
    const seen = remembered(name);
    const now = Date.now();
    const fresh = keys.filter(function (key) { return !seen[key]; });
    fresh.forEach(function (key) { seen[key] = now; });
    Object.keys(seen).forEach(function (key) { if (now - seen[key] > KEEP_MS) { delete seen[key]; } });
    try {
      window.localStorage.setItem(name, JSON.stringify(seen));
    } catch (error) { /* storage full or refused: announce anyway */ }
    return fresh;
  }

  function soundWanted() {
    return window.localStorage.getItem(SOUND) !== "off";
  }

  function context() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audio && Context) { audio = new Context(); }
    return audio;
  }

  function beep(ctx) {
    // Two falling tones, 0.25 s each: heard across a room, not a siren.
    [880, 660].forEach(function (hz, n) {
      const start = ctx.currentTime + n * 0.3;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.4, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.25);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.27);
    });
  }

  function silence(strip) {
    if (beeping !== null) { window.clearInterval(beeping); beeping = null; }
    if (strip && strip.dataset.sound === "playing") { strip.dataset.sound = "silenced"; }
    const button = strip && strip.querySelector(".wall-alert-silence");
    if (button) { button.hidden = true; }
  }

  function play(strip) {
    const ctx = context();
    if (!ctx) { strip.dataset.sound = "unsupported"; return; }
    if (ctx.state !== "running") {
      ctx.resume(); // granted at once where autoplay is allowed; else it waits for a click
    }
    if (ctx.state !== "running") {
      strip.dataset.sound = "blocked";
      strip.querySelector(".wall-alert-enable").hidden = false;
      strip.querySelector(".wall-alert-blocked").hidden = false;
      return;
    }
    silence(null);
    let left = BEEPS;
    beep(ctx);
    beeping = window.setInterval(function () {
      left -= 1;
      if (left <= 0) { silence(strip); strip.dataset.sound = "played"; return; }
      beep(ctx);
    }, 2000);
    strip.dataset.sound = "playing";
    strip.dataset.played = String(Number(strip.dataset.played || 0) + 1);
    strip.querySelector(".wall-alert-silence").hidden = false;
    strip.querySelector(".wall-alert-enable").hidden = true;
    strip.querySelector(".wall-alert-blocked").hidden = true;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; } // text, never markup: titles come from outside
    return node;
  }

  function showStrip(alerts, words) {
    const strip = document.getElementById("command-alert");
    if (!strip) { return; }
    silence(strip);
    strip.replaceChildren();
    strip.appendChild(element("strong", "wall-alert-title", words.title));
    const list = element("ul", "wall-alert-causes");
    alerts.slice(0, SHOWN).forEach(function (alert) {
      list.appendChild(element("li", "wall-alert-" + alert.kind, alert.text));
    });
    if (alerts.length > SHOWN) {
      list.appendChild(element("li", "wall-alert-more", words.more.replace("{n}", alerts.length - SHOWN)));
    }
    strip.appendChild(list);
    const blocked = element("span", "wall-alert-blocked", words.blocked);
    blocked.hidden = true;
    strip.appendChild(blocked);
    const enable = element("button", "cv-button wall-alert-enable", words.enable);
    enable.type = "button";
    enable.hidden = true;
    enable.addEventListener("click", function () {
      window.localStorage.setItem(SOUND, "on");
      const ctx = context();
      if (ctx) { ctx.resume().then(function () { play(strip); }); }
      labelSwitch(words);
    });
    strip.appendChild(enable);
    const quiet = element("button", "cv-button wall-alert-silence", words.silence);
    quiet.type = "button";
    quiet.hidden = true;
    quiet.addEventListener("click", function () { silence(strip); });
    strip.appendChild(quiet);
    const close = element("button", "cv-button wall-alert-close", words.dismiss);
    close.type = "button";
    close.addEventListener("click", function () { silence(strip); strip.hidden = true; });
    strip.appendChild(close);
    strip.dataset.causes = alerts.map(function (alert) { return alert.key; }).join(" ");
    strip.dataset.sound = "off";
    strip.hidden = false;
    if (soundWanted()) { play(strip); }
  }

  function labelSwitch(words) {
    const button = document.getElementById("command-sound");
    if (button) { button.textContent = soundWanted() ? words.sound_on : words.sound_off; }
  }

  function toast(alert, words) {
    const box = document.getElementById("shell-toasts");
    if (!box) { return; }
    const item = element("div", "toast toast-" + alert.kind);
    item.setAttribute("role", "alert");
    item.dataset.key = alert.key;
    item.appendChild(element("span", "toast-text", alert.text)).title = alert.text;
    if ("Notification" in window && window.Notification.permission === "default") {
      const ask = element("button", "cv-button toast-desktop", words.desktop);
      ask.type = "button";
      ask.addEventListener("click", function () { window.Notification.requestPermission(); });
      item.appendChild(ask);
    }
    const close = element("button", "cv-button toast-close", "×");
    close.type = "button";
    close.setAttribute("aria-label", words.dismiss);
    close.addEventListener("click", function () { item.remove(); });
    item.appendChild(close);
    box.appendChild(item);
    while (box.children.length > 3) { box.removeChild(box.firstChild); } // the newest three
  }

  // How many answers each part has looked at (on <body>): tests and people can see it is alive.
  function countAnswer(name) {
    document.body.dataset[name] = String(Number(document.body.dataset[name] || 0) + 1);
  }

  window.dash_clientside = Object.assign({}, window.dash_clientside, {
    cityops_alerts: {
      announce: function (alerts, options) {
        const words = options && options.alert;
        if (!Array.isArray(alerts) || !words) { return window.dash_clientside.no_update; }
        countAnswer("alertsChecked");
        const fresh = firstTime(ANNOUNCED, alerts.map(function (alert) { return alert.key; }));
        if (fresh.length === 0) { return window.dash_clientside.no_update; }
        showStrip(alerts.filter(function (alert) { return fresh.indexOf(alert.key) >= 0; }), words);
        return fresh;
      },
      soundSwitch: function (clicks, options) {
        const words = options && options.alert;
        if (!words) { return window.dash_clientside.no_update; }
        if (clicks) {
          const on = !soundWanted();
          window.localStorage.setItem(SOUND, on ? "on" : "off");
          const ctx = context();
          if (on && ctx) { ctx.resume(); } // this click is the gesture browsers wait for
          if (!on) { silence(document.getElementById("command-alert")); }
        }
        return soundWanted() ? words.sound_on : words.sound_off;
      },
      notify: function (alerts, words) {
        if (!Array.isArray(alerts) || !words) { return window.dash_clientside.no_update; }
        countAnswer("notifyChecked");
        const fresh = firstTime(NOTIFIED, alerts.map(function (alert) { return alert.key; }));
        alerts.filter(function (alert) { return fresh.indexOf(alert.key) >= 0; }).forEach(function (alert) {
          if ("Notification" in window && window.Notification.permission === "granted") {
            new window.Notification(words.critical_title, {body: alert.text, tag: alert.key});
          } else {
            toast(alert, words);
          }
        });
        if (fresh.length) {
          const done = (document.body.dataset.notified || "").split(" ").filter(Boolean).concat(fresh);
          document.body.dataset.notified = done.join(" ");
        }
        return fresh.length ? fresh : window.dash_clientside.no_update;
      },
    },
  });
})();
