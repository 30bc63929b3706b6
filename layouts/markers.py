"""How incidents and response units look on every map and in every legend: a colour and a shape
each, so they read without colour too (colour-blind staff, black-and-white print)."""

SEVERITY_STYLE = {  # Plotly marker colour and symbol
    "minor": ("#4fc3f7", "circle"), "major": ("#ffb74d", "diamond"), "critical": ("#ef5350", "x")}
SEVERITY_MARK = {"minor": "●", "major": "◆", "critical": "✖"}  # the same shapes as text
UNIT_SYMBOL = {"fire": "triangle-up", "police": "square", "ambulance": "cross", "city_management": "pentagon",
               "utility": "star"}
UNIT_MARK = {"fire": "▲", "police": "■", "ambulance": "✚", "city_management": "⬟", "utility": "★"}
UNIT_COLOUR = {"available": "#66bb6a", "busy": "#ffa726", "offline": "#757575"}
