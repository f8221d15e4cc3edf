// Package containerenv is the part of the kubelet's pod worker that
// resolves what a container process sees: its environment and its argv.
//
//	pod spec + container ─┐
//	ConfigMaps, Secrets, Services (via Lookup) ─┼─► Environment ─► []EnvVar ─► Argv ─► final argv
//	pod/host IPs, node allocatable ─┘                 ($(VAR) expanded)     (image Entrypoint/Cmd
//	                                                                          × command/args)
//
// The rules are the upstream kubelet's (makeEnvironmentVariables,
// pkg/kubelet/envvars, the forked expansion package, fieldpath), rewritten
// here. Missing references come back as *ConfigError so the kubelet can
// report CreateContainerConfigError with the same message a real cluster
// shows.
package containerenv
