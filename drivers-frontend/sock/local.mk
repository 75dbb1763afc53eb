# drivers-frontend/sock: socket frontend module (built by tools/guest-image)
