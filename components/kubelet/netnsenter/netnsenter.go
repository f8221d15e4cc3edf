// Package netnsenter moves a whole process into a network namespace before
// the Go runtime starts, when the environment variable KUBELAB_NETNS names
// one (a file such as /var/run/netns/kubelab-node-0).
//
// Why: `kubelab cluster create` runs one kubelet per network-namespace node.
// A Go program cannot switch namespaces for itself once it runs: the network
// namespace belongs to each OS thread, and the Go runtime already has
// several threads by the time main (or any init) runs. `ip netns exec` would
// do it, but it also gives the process a private mount namespace, so the
// kubelet's mounts (sandbox namespace files, overlay rootfs) would be
// invisible to the next kubelet after a restart. A C constructor runs while
// the process still has one thread, so setns here moves everything the
// kubelet will ever start (container monitors included) into the node's
// namespace, and nothing else.
//
// A binary opts in with a blank import: import _ ".../kubelet/netnsenter".
package netnsenter

/*
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void kubelab_enter_netns(void) {
	const char *path = getenv("KUBELAB_NETNS");
	if (path == NULL || *path == '\0')
		return;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "kubelab: open network namespace %s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "kubelab: enter network namespace %s: %s\n", path, strerror(errno));
		exit(1);
	}
	close(fd);
	// Children (container monitors) are already in it by inheritance.
	unsetenv("KUBELAB_NETNS");
}
*/
import "C"

// Env is the environment variable that names the namespace to enter.
const Env = "KUBELAB_NETNS"
