/* SPDX-License-Identifier: MIT */
/*
 * test-channels-xml - DOMAIN -> channel sockets, the XML half: only
 * <channel type='unix'> devices of the domain whose virtio target is named
 * org.hostrpc.guest.N count, in N order, with XML escapes decoded; broken
 * XML is an error, not a guess.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "guestrpc/session.h"
#include "tests/tap.h"

static const char *xml =
	"<domain type='qemu' id='3'><name>g</name><devices>"
	"<channel type='unix'><source mode='bind' path='/run/b&apos;1.sock'/>"
	"<target type='virtio' name='org.hostrpc.guest.1' state='connected'/></channel>"
	"<channel type='pty'><source path='/dev/pts/4'/>"
	"<target type='virtio' name='org.hostrpc.guest.2'/></channel>"
	"<channel type='unix'><source mode='bind' path='/run/ga.sock'/>"
	"<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
	"<channel type='unix'><source mode='bind' path='/run/x.sock'/>"
	"<target type='virtio' name='org.hostrpc.guest.x'/></channel>"
	"<channel type='unix'><source mode='bind' path='/run/a.sock'/>"
	"<target type='virtio' name='org.hostrpc.guest.0'/></channel>"
	"</devices><metadata><channel type='unix'><source path='/evil'/>"
	"<target name='org.hostrpc.guest.3'/></channel></metadata></domain>";

int main(void)
{
	char **p = NULL;
	int n;

	tap_plan(5);
	n = guestrpc_channels_from_xml(xml, &p);
	tap_ok(n == 2, "two org.hostrpc.guest.N unix channels found (%d)", n);
	tap_ok(n >= 1 && !strcmp(p[0], "/run/a.sock"), "org.hostrpc.guest.0 first (%s)", n >= 1 ? p[0] : "");
	tap_ok(n == 2 && !strcmp(p[1], "/run/b'1.sock"), "then .1, its &apos; decoded (%s)", n == 2 ? p[1] : "");
	tap_ok(n == 2 && p[2] == NULL, "NULL-terminated; pty, agent, non-numbered and <metadata> channels ignored");
	for (int i = 0; n > 0 && i < n; i++)
		free(p[i]);
	free(p);
	tap_ok(guestrpc_channels_from_xml("<domain><devices><channel type='unix'>", &p) < 0,
	       "truncated XML: an error");
	return tap_done();
}
