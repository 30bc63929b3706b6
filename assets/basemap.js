/* Maps drawn over the city's base map (layouts/basemap.py: Plotly's MapLibre "map" subplot).
   - The wall's map (a graph with the class "map-fixed") keeps its framing: nobody pans or zooms it
     by hand (Plotly turns panning back on at every redraw, so this runs after each).
   - An element layer with a minimum zoom (its trace's uid ends "-minzoom-<MapLibre zoom>") is drawn
     only from that zoom on, as the map is zoomed.
   - The marks' shapes, drawn as characters on their circles (layouts/basemap.py), are all drawn,
     however close: MapLibre would hide a shape that touches another, and a red square would then
     read as a plain dot. */
(function () {
  const MIN_ZOOM = /^plotly-trace-layer-layer-.*-minzoom-([0-9.]+)-[a-z]+$/;
  const SHAPES = /^plotly-trace-layer-.*-symbol$/;  // a scattermap trace's text (our marks' shapes)

  function tune(gd) {
    const layout = gd._fullLayout;
    const map = layout && layout.map && layout.map._subplot && layout.map._subplot.map;
    if (!map || !map.getStyle()) {
      return;
    }
    if (gd.closest(".map-fixed")) {
      ["dragPan", "scrollZoom", "boxZoom", "dragRotate", "keyboard", "touchZoomRotate"].forEach(function (name) {
        map[name].disable();
      });
    }
    map.getStyle().layers.forEach(function (layer) {
      const found = MIN_ZOOM.exec(layer.id);
      if (found) {
        map.setLayerZoomRange(layer.id, parseFloat(found[1]), 24);
      }
      if (SHAPES.test(layer.id) && !map.getLayoutProperty(layer.id, "text-allow-overlap")) {
        map.setLayoutProperty(layer.id, "text-allow-overlap", true);
        map.setLayoutProperty(layer.id, "text-ignore-placement", true);
      }
    });
  }

  function watch(gd) {
    if (gd.cityopsBasemap || typeof gd.on !== "function") {
      return;
    }
    gd.cityopsBasemap = true;
    gd.on("plotly_afterplot", function () { tune(gd); });
    tune(gd);
  }

  new MutationObserver(function () {
    document.querySelectorAll(".js-plotly-plot").forEach(watch);
  }).observe(document.documentElement, {childList: true, subtree: true});
})();
