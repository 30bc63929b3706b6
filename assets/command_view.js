/* The command view's browser-side parts (served locally like every asset; nothing from outside).
   - rotate: kiosk mode shows the chosen domains in turn, one per tick of command-rotate;
   - watch: marks the page "connection lost since hh:mm:ss" when no refresh has answered for a
     while, and clears it when one does (the refresh interval keeps firing while the server is
     down, so the page recovers by itself);
   - scale: marks and their outlines grow with the wall's width (3840 px: twice 1920 px);
   - keepUrl: the level and domain shown stay in the address (shareable, survive a reload).
   A click anywhere on the map reaches the server as lon/lat (assets/map_click.js), which finds the unit there. */
window.dash_clientside = Object.assign({}, window.dash_clientside, {
  cityops_command: {
    rotate: function (n, options) {
      const domains = (options && options.domains) || [];
      if (!options || !options.kiosk || domains.length === 0) {
        return [window.dash_clientside.no_update, window.dash_clientside.no_update];
      }
      const turn = n || 0;
      // Two animation names, alternating, restart the progress bar on every turn.
      return [domains[turn % domains.length], "cv-progress " + (turn % 2 ? "cv-progress-b" : "cv-progress-a")];
    },
    watch: function (n, heartbeat, options) {
      const ctx = window.dash_clientside.callback_context;
      const now = Date.now();
      const fresh = !n || (ctx.triggered || []).some(function (t) { return t.prop_id === "command-heartbeat.data"; });
      if (fresh || window.cityopsLastAnswer === undefined) {
        window.cityopsLastAnswer = now;
        return "";
      }
      if (now - window.cityopsLastAnswer < options.lost_after_ms) {
        return window.dash_clientside.no_update;
      }
      let since;
      try {
        since = new Date(window.cityopsLastAnswer).toLocaleTimeString("en-GB", {timeZone: options.zone});
      } catch (error) {
        since = new Date(window.cityopsLastAnswer).toLocaleTimeString("en-GB");
      }
      return options.lost_text.replace("{time}", since);
    },
    scale: function (n, shown) {
      // Marks are drawn in pixels: on a wall wider than 1920 px they grow with it, in quarter steps.
      // Compared with the page's own store, not a global: a page opened again without a reload
      // (back from a drill-down) starts with an empty store and must be told again.
      const scale = Math.min(3, Math.max(1, Math.round(window.innerWidth / 1920 * 4) / 4));
      return scale === shown ? window.dash_clientside.no_update : scale;
    },
    keepUrl: function (domain, level, options) {
      if (!options || options.kiosk) {
        return window.dash_clientside.no_update;
      }
      const query = new URLSearchParams(window.location.search);
      query.set("level", level);
      if (domain && domain !== "index") { query.set("domain", domain); } else { query.delete("domain"); }
      const search = "?" + query.toString();
      if (search !== window.location.search) {
        window.history.replaceState(window.history.state, "", window.location.pathname + search);
      }
      return search;
    },
  },
});
