package containerenv

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Lookup gives access to the objects a container's environment refers to.
// A missing object must come back as an error for which
// apierrors.IsNotFound is true (what client-go listers return), so that
// optional references can be told apart from real failures.
type Lookup interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
	// Services lists the services of one namespace.
	Services(namespace string) ([]*corev1.Service, error)
}

// ConfigError is a container configuration the kubelet cannot resolve (a
// missing ConfigMap, Secret or key). The kubelet reports it as the waiting
// reason CreateContainerConfigError with Error() as the message, and retries
// on the next sync.
type ConfigError struct {
	Msg string
	Err error
}

func (e *ConfigError) Error() string { return e.Msg }
func (e *ConfigError) Unwrap() error { return e.Err }

// IsConfigError reports whether err (or one it wraps) is a *ConfigError.
func IsConfigError(err error) bool {
	var ce *ConfigError
	return errors.As(err, &ce)
}

func configErr(err error, format string, args ...any) *ConfigError {
	return &ConfigError{Msg: fmt.Sprintf(format, args...), Err: err}
}

// Options name the container whose environment is built and what it may
// refer to.
type Options struct {
	Pod       *corev1.Pod
	Container *corev1.Container
	PodIPs    []string
	HostIPs   []string
	// NodeAllocatable stands in for unset limits in resourceFieldRef.
	NodeAllocatable corev1.ResourceList
	// Lookup may be nil for pods that refer to no object; service links are
	// then omitted.
	Lookup Lookup
}

// Result is a resolved environment.
type Result struct {
	// Env in a stable order: envFrom and env in declaration order (a later
	// definition replaces an earlier one in place), then service variables
	// not overridden.
	Env []corev1.EnvVar
	// Warnings are events worth showing on the pod, e.g. envFrom keys skipped
	// because they are not valid variable names.
	Warnings []string
}

// Environment builds the container's environment the way the upstream
// kubelet's makeEnvironmentVariables does.
func Environment(o Options) (*Result, error) {
	pod, c := o.Pod, o.Container
	res := &Result{}
	var services []corev1.EnvVar
	if o.Lookup != nil {
		var all []*corev1.Service
		for _, ns := range uniq(pod.Namespace, "default") {
			list, err := o.Lookup.Services(ns)
			if err != nil {
				return nil, configErr(err, "list services of namespace %q: %v", ns, err)
			}
			all = append(all, list...)
		}
		services = ServiceEnv(pod, all)
	}
	serviceMap := toMap(services)

	env := &ordered{index: map[string]int{}}
	cms := map[string]*corev1.ConfigMap{}
	secrets := map[string]*corev1.Secret{}

	for _, from := range c.EnvFrom {
		data, kind, name, err := o.envFromData(from, cms, secrets)
		if err != nil {
			return nil, err
		}
		var invalid []string
		keys := sortedKeys(data)
		for _, k := range keys {
			full := from.Prefix + k
			if len(validation.IsEnvVarName(full)) != 0 {
				invalid = append(invalid, full)
				continue
			}
			env.set(full, data[k])
		}
		if len(invalid) > 0 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("Keys [%s] from the EnvFrom %s %s/%s were skipped since they are considered invalid environment variable names.",
				strings.Join(invalid, ", "), kind, pod.Namespace, name))
		}
	}

	for _, ev := range c.Env {
		if ev.Value != "" || ev.ValueFrom == nil {
			env.set(ev.Name, Expand(ev.Value, MappingFor(env.asMap(), serviceMap)))
			continue
		}
		v, skip, err := o.valueFrom(ev.ValueFrom, cms, secrets)
		if err != nil {
			return nil, err
		}
		if !skip {
			env.set(ev.Name, v)
		}
	}

	res.Env = env.vars
	for _, s := range services {
		if _, ok := env.index[s.Name]; !ok {
			res.Env = append(res.Env, s)
		}
	}
	return res, nil
}

// envFromData fetches one envFrom source; a missing optional source yields
// no data.
func (o Options) envFromData(from corev1.EnvFromSource, cms map[string]*corev1.ConfigMap, secrets map[string]*corev1.Secret) (map[string]string, string, string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := o.configMap(from.ConfigMapRef.Name, isTrue(from.ConfigMapRef.Optional), cms)
		if err != nil || cm == nil {
			return nil, "configMap", from.ConfigMapRef.Name, err
		}
		return cm.Data, "configMap", cm.Name, nil
	case from.SecretRef != nil:
		s, err := o.secret(from.SecretRef.Name, isTrue(from.SecretRef.Optional), secrets)
		if err != nil || s == nil {
			return nil, "secret", from.SecretRef.Name, err
		}
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, "secret", s.Name, nil
	}
	return nil, "", "", nil
}

// valueFrom resolves one env var source; skip is true for a missing
// optional reference.
func (o Options) valueFrom(src *corev1.EnvVarSource, cms map[string]*corev1.ConfigMap, secrets map[string]*corev1.Secret) (string, bool, error) {
	ns := o.Pod.Namespace
	switch {
	case src.FieldRef != nil:
		v, err := PodFieldValue(o.Pod, src.FieldRef, o.PodIPs, o.HostIPs)
		if err != nil {
			return "", false, configErr(err, "%v", err)
		}
		return v, false, nil
	case src.ResourceFieldRef != nil:
		v, err := ResourceFieldValue(o.Pod, o.Container.Name, src.ResourceFieldRef, o.NodeAllocatable)
		if err != nil {
			return "", false, configErr(err, "%v", err)
		}
		return v, false, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		optional := isTrue(ref.Optional)
		cm, err := o.configMap(ref.Name, optional, cms)
		if err != nil || cm == nil {
			return "", true, err
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, configErr(nil, "couldn't find key %s in ConfigMap %s/%s", ref.Key, ns, ref.Name)
		}
		return v, false, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		optional := isTrue(ref.Optional)
		s, err := o.secret(ref.Name, optional, secrets)
		if err != nil || s == nil {
			return "", true, err
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if optional {
				return "", true, nil
			}
			return "", false, configErr(nil, "couldn't find key %s in Secret %s/%s", ref.Key, ns, ref.Name)
		}
		return string(v), false, nil
	}
	return "", false, configErr(nil, "unsupported valueFrom source")
}

// configMap fetches (once per build) a ConfigMap; a missing optional one is
// (nil, nil).
func (o Options) configMap(name string, optional bool, cache map[string]*corev1.ConfigMap) (*corev1.ConfigMap, error) {
	if cm, ok := cache[name]; ok {
		return cm, nil
	}
	if o.Lookup == nil {
		return nil, configErr(nil, "configmap %q: no object lookup configured", name)
	}
	cm, err := o.Lookup.ConfigMap(o.Pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			if optional {
				return nil, nil
			}
			return nil, configErr(err, "configmap %q not found", name)
		}
		return nil, configErr(err, "get configmap %s/%s: %v", o.Pod.Namespace, name, err)
	}
	cache[name] = cm
	return cm, nil
}

func (o Options) secret(name string, optional bool, cache map[string]*corev1.Secret) (*corev1.Secret, error) {
	if s, ok := cache[name]; ok {
		return s, nil
	}
	if o.Lookup == nil {
		return nil, configErr(nil, "secret %q: no object lookup configured", name)
	}
	s, err := o.Lookup.Secret(o.Pod.Namespace, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			if optional {
				return nil, nil
			}
			return nil, configErr(err, "secret %q not found", name)
		}
		return nil, configErr(err, "get secret %s/%s: %v", o.Pod.Namespace, name, err)
	}
	cache[name] = s
	return s, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ordered is an insertion-ordered set of variables.
type ordered struct {
	vars  []corev1.EnvVar
	index map[string]int
}

func (o *ordered) set(name, value string) {
	if i, ok := o.index[name]; ok {
		o.vars[i].Value = value
		return
	}
	o.index[name] = len(o.vars)
	o.vars = append(o.vars, corev1.EnvVar{Name: name, Value: value})
}

func (o *ordered) asMap() map[string]string { return toMap(o.vars) }

func toMap(vars []corev1.EnvVar) map[string]string {
	m := make(map[string]string, len(vars))
	for _, v := range vars {
		m[v.Name] = v.Value
	}
	return m
}
