/* Every page: tells the server in a cookie whether this browser draws WebGL. The maps over the
   city's base map need it (MapLibre draws only with WebGL); a browser without it (a wall PC with
   its GPU off, a virtual desktop) is sent the outlines on black instead of an empty map
   (web/citydata.py, basemap_for_browser). Dash runs the assets before its renderer asks the server
   for anything, so the first map already knows. */
(function () {
  let drawn = false;
  try {
    const canvas = document.createElement("canvas");
    const context = canvas.getContext("webgl2") || canvas.getContext("webgl");
    drawn = !!context;
    const lose = context && context.getExtension("WEBGL_lose_context");
    if (lose) { lose.loseContext(); }  // a browser holds only a few contexts: give this one back now
  } catch (error) {
    drawn = false;
  }
  document.cookie = "cityops_webgl=" + (drawn ? "1" : "0") + "; path=/; max-age=31536000; SameSite=Strict";
})();
