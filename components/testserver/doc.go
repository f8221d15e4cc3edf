// Package testserver is the program inside the kit's test image
// (localhost/kubelab/testserver:v1), our small cousin of Kubernetes' agnhost.
// It is not a box on the architecture picture: it is what runs *inside* the
// pods that labs and e2e tests create, so they can watch the cluster work
// without pulling anything from the internet.
//
// One static binary, many personalities, picked by the first argument:
//
//	testserver serve-hostname   answer "which pod am I?" over HTTP/TCP/UDP (the image's default)
//	testserver netexec          an HTTP toolbox: echo, client IP, headers, probes, /dial, /shell, /exit
//	testserver pause            do nothing until SIGTERM, then exit 0
//	testserver dns-lookup NAME  ask cluster DNS, print the answers
//	testserver mem-hog          allocate memory until the OOM killer comes
//	testserver crash            exit with a chosen code (CrashLoopBackOff, restart policies)
//	testserver logs-generator   numbered log lines (kubectl logs, log rotation)
//
// Data flow: cmd/testserver turns SIGTERM/SIGINT into a cancelled context and
// calls Run; Run picks the subcommand, parses its flags, and blocks until the
// work is done or the context ends. Errors come back as values; an *ExitError
// carries the exit code a subcommand asked for (crash, /exit, a failed lookup).
//
// Names and flags mirror agnhost where agnhost has the same command, so what a
// student learns here transfers to upstream Kubernetes e2e tests.
package testserver
