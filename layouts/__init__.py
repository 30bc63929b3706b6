"""The pages of the web app (Dash pages, ``pages_folder="layouts"``): components and layouts, no data access."""
