# drivers-frontend/sock: socket frontend module (built by tools/guest-image)
EXTRA_DIST += \
	drivers-frontend/sock/Kbuild \
	drivers-frontend/sock/Makefile \
	drivers-frontend/sock/README.md \
	drivers-frontend/sock/area.c \
	drivers-frontend/sock/forge.c \
	drivers-frontend/sock/hsock.h \
	drivers-frontend/sock/main.c \
	drivers-frontend/sock/socket.c
