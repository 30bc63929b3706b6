/* A click anywhere on a map whose graph has the class "map-clickable" sends its lon/lat to the
   store "<graph id>-click" as {lon, lat, on_point, at}. Plotly reports clicks on points only;
   this reads the position from the axes instead (or, over a base map, from MapLibre's own
   projection), so maps need no grid of invisible points.
   on_point: the click was on a point (an incident, a unit's mark), which Plotly reports too. */
document.addEventListener("click", function (event) {
  const graph = event.target.closest && event.target.closest(".map-clickable");
  const gd = graph && graph.querySelector(".js-plotly-plot");
  const layout = gd && gd._fullLayout;
  const map = layout && layout.map && layout.map._subplot && layout.map._subplot.map;
  const area = map ? map.getCanvasContainer() : gd && gd.querySelector(".nsewdrag");
  if (!layout || !area || !window.dash_clientside || !window.dash_clientside.set_props) {
    return;
  }
  const box = area.getBoundingClientRect();
  const x = event.clientX - box.left;
  const y = event.clientY - box.top;
  if (x < 0 || y < 0 || x > box.width || y > box.height) {
    return;
  }
  const where = map ? map.unproject([x, y]) : {lng: layout.xaxis.p2l(x), lat: layout.yaxis.p2l(y)};
  window.dash_clientside.set_props(graph.id + "-click", {
    data: {lon: where.lng, lat: where.lat, on_point: !!(gd._hoverdata && gd._hoverdata.length), at: Date.now()},
  });
});
