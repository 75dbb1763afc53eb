# drivers-frontend/fs: filesystem frontend module hostrpcfs.ko (built by tools/guest-image)
EXTRA_DIST += \
	drivers-frontend/fs/Kbuild \
	drivers-frontend/fs/Makefile \
	drivers-frontend/fs/README.md \
	drivers-frontend/fs/call.c \
	drivers-frontend/fs/dir.c \
	drivers-frontend/fs/file.c \
	drivers-frontend/fs/hfs.h \
	drivers-frontend/fs/inode.c \
	drivers-frontend/fs/main.c \
	drivers-frontend/fs/xattr.c
