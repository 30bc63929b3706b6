/* Maps drawn over the city's base map (layouts/basemap.py: Plotly's MapLibre "map" subplot).
   - The wall's map (a graph with the class "map-fixed") keeps its framing: nobody pans or zooms it
     by hand (Plotly turns panning back on at every redraw, so this runs after each).
   - An element layer with a minimum zoom (its trace's uid ends "-minzoom-<MapLibre zoom>") is drawn
     only from that zoom on, as the map is zoomed.
   - The marks' shapes, drawn as characters on their circles (layouts/basemap.py), are all drawn,
     however close: MapLibre would hide a shape that touches another, and a red square would then
     read as a plain dot.
   - A map a person zooms (drill-down, dispatch) is framed on its units (the layout's meta.fit:
     west, south, east, north) in the box it really has on this screen, once per frame: the
     server's zoom is for a box of a fixed size, and afterwards the view is the person's. */
(function () {
  const MIN_ZOOM = /^plotly-trace-layer-layer-.*-minzoom-([0-9.]+)-[a-z]+$/;
  const SHAPES = /^plotly-trace-layer-.*-symbol$/;  // a scattermap trace's text (our marks' shapes)
  const FRAMING = "cityops-frame";  // a move of ours, not the person's

  function frame(gd, map) {
    const fit = gd.layout && gd.layout.meta && gd.layout.meta.fit;
    if (!Array.isArray(fit) || fit.length !== 4) {
      return;
    }
    if (gd.cityopsFitted !== fit.join(",")) {  // a new frame: framed again, whatever the last view was
      gd.cityopsFitted = fit.join(",");
      gd.cityopsMoved = false;
    }
    if (!map.cityopsFraming) {  // once per MapLibre map: its box may still change size after the first draw
      map.cityopsFraming = true;
      map.on("movestart", function (event) {
        if (event.originalEvent && event.originalEvent.type !== FRAMING) {
          gd.cityopsMoved = true;  // the person's view from now on
        }
      });
      map.on("resize", function () { frame(gd, map); });
    }
    if (!gd.cityopsMoved) {
      // Passed on as the move's "originalEvent": Plotly then keeps the view in the figure's layout as
      // a person's (as after a drag), so a refresh of the figure (same uirevision) keeps it.
      map.fitBounds([[fit[0], fit[1]], [fit[2], fit[3]]], {padding: 8, animate: false},
                    {originalEvent: {type: FRAMING}});
    }
  }

  function tune(gd) {
    const layout = gd._fullLayout;
    const map = layout && layout.map && layout.map._subplot && layout.map._subplot.map;
    if (!map || !map.getStyle()) {
      return;
    }
    frame(gd, map);
    if (gd.closest(".map-fixed")) {
      ["dragPan", "scrollZoom", "boxZoom", "dragRotate", "keyboard", "touchZoomRotate"].forEach(function (name) {
        map[name].disable();
      });
    }
    if (!map.cityopsLayers) {
      // Plotly adds a new trace's layers after its "afterplot" (a layer turned on): tuned as they come,
      // before they are drawn, or a layer's elements would show at every zoom until the next redraw.
      map.cityopsLayers = true;
      map.on("styledata", function () { tuneLayers(map); });
    }
    tuneLayers(map);
  }

  function tuneLayers(map) {
    map.getStyle().layers.forEach(function (layer) {
      const found = MIN_ZOOM.exec(layer.id);
      if (found && map.getLayer(layer.id).minzoom !== parseFloat(found[1])) {
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
