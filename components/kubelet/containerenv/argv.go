package containerenv

import (
	"errors"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ErrNoCommand: neither the image nor the container says what to run.
var ErrNoCommand = errors.New("no command specified")

// Argv combines the image's Entrypoint/Cmd with the container's
// command/args by the Kubernetes rules, expanding $(VAR) in command and args
// from env (the container's resolved environment, not the image's):
//
//	command  args   →  argv
//	-        -         Entrypoint + Cmd
//	-        set       Entrypoint + args
//	set      -         command            (the image's Cmd is dropped)
//	set      set       command + args
func Argv(entrypoint, cmd []string, c *corev1.Container, env []corev1.EnvVar) ([]string, error) {
	mapping := MappingFor(toMap(env))
	expand := func(in []string) []string {
		out := make([]string, len(in))
		for i, s := range in {
			out[i] = Expand(s, mapping)
		}
		return out
	}
	var argv []string
	switch {
	case len(c.Command) > 0:
		argv = append(expand(c.Command), expand(c.Args)...)
	case len(c.Args) > 0:
		argv = append(append([]string{}, entrypoint...), expand(c.Args)...)
	default:
		argv = append(append([]string{}, entrypoint...), cmd...)
	}
	if len(argv) == 0 {
		return nil, ErrNoCommand
	}
	return argv, nil
}

// Strings renders the environment as KEY=VALUE for the runtime, after the
// image's own environment (imageEnv, KEY=VALUE): the container's variables
// override the image's, like a container runtime merges them.
func Strings(imageEnv []string, env []corev1.EnvVar) []string {
	override := toMap(env)
	out := make([]string, 0, len(imageEnv)+len(env))
	for _, kv := range imageEnv {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := override[k]; ok {
			continue
		}
		out = append(out, kv)
	}
	for _, v := range env {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// Map returns the environment as a map (for subPathExpr expansion).
func Map(env []corev1.EnvVar) map[string]string { return toMap(env) }
