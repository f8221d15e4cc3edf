package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// allContainers validates containers, initContainers and
// ephemeralContainers of a pod spec. Names must be unique across all three
// lists, because `kubectl logs -c NAME` and `kubectl exec -c NAME` pick a
// container by name. Duplicates are reported on the later list, as upstream.
func allContainers(spec *corev1.PodSpec, vols sets.Set[string], p *field.Path, opts podOptions) field.ErrorList {
	var errs field.ErrorList
	grace := spec.TerminationGracePeriodSeconds
	names := sets.New[string]()

	cPath := p.Child("containers")
	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(cPath, ""))
	}
	for i := range spec.Containers {
		c, idx := &spec.Containers[i], cPath.Index(i)
		errs = append(errs, containerCommon(c, vols, idx, opts)...)
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), c.Name))
		}
		names.Insert(c.Name)
		errs = append(errs, probesAndLifecycle(c, grace, idx)...)
		if c.RestartPolicy != nil {
			errs = append(errs, field.Forbidden(idx.Child("restartPolicy"), "may not be set for non-init containers"))
		}
	}
	// Regular containers run together, so they may not claim the same host port.
	errs = append(errs, hostPortConflicts(spec.Containers, cPath)...)

	iPath := p.Child("initContainers")
	for i := range spec.InitContainers {
		c, idx := &spec.InitContainers[i], iPath.Index(i)
		errs = append(errs, containerCommon(c, vols, idx, opts)...)
		if names.Has(c.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), c.Name))
		} else if c.Name != "" {
			names.Insert(c.Name)
		}
		errs = append(errs, hostPortConflicts([]corev1.Container{*c}, iPath)...)
		// restartPolicy: Always makes an init container a sidecar, which
		// keeps running and so may have probes and hooks; a plain init
		// container runs to completion and may not.
		sidecar := false
		if c.RestartPolicy != nil {
			errs = append(errs, oneOf(string(*c.RestartPolicy), idx.Child("restartPolicy"), string(corev1.ContainerRestartPolicyAlways))...)
			sidecar = *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
		if sidecar {
			errs = append(errs, probesAndLifecycle(c, grace, idx)...)
			continue
		}
		for _, f := range []setField{
			{"lifecycle", c.Lifecycle != nil}, {"livenessProbe", c.LivenessProbe != nil},
			{"readinessProbe", c.ReadinessProbe != nil}, {"startupProbe", c.StartupProbe != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(idx.Child(f.name), "may not be set for init containers without restartPolicy=Always"))
			}
		}
	}

	ePath := p.Child("ephemeralContainers")
	for i := range spec.EphemeralContainers {
		ec, idx := &spec.EphemeralContainers[i], ePath.Index(i)
		c := (*corev1.Container)(&ec.EphemeralContainerCommon)
		errs = append(errs, containerCommon(c, vols, idx, podOptions{isPod: true})...)
		if names.Has(ec.Name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), ec.Name))
		}
		names.Insert(ec.Name)
		if ec.TargetContainerName != "" && !containerNamed(spec, ec.TargetContainerName) {
			errs = append(errs, field.NotFound(idx.Child("targetContainerName"), ec.TargetContainerName))
		}
		// A debugging container must not become part of the workload.
		for _, f := range []setField{
			{"ports", len(c.Ports) > 0}, {"resources", len(c.Resources.Limits)+len(c.Resources.Requests) > 0},
			{"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil},
			{"startupProbe", c.StartupProbe != nil}, {"lifecycle", c.Lifecycle != nil},
		} {
			if f.set {
				errs = append(errs, field.Forbidden(idx.Child(f.name), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return errs
}

// setField names an optional field and whether it is set, for rules of the
// form "this field may not be set here" (a slice keeps the errors in order).
type setField struct {
	name string
	set  bool
}

func containerNamed(spec *corev1.PodSpec, name string) bool {
	for _, c := range append(append([]corev1.Container{}, spec.Containers...), spec.InitContainers...) {
		if c.Name == name {
			return true
		}
	}
	return false
}

// containerCommon holds the rules every kind of container shares.
func containerCommon(c *corev1.Container, vols sets.Set[string], p *field.Path, opts podOptions) field.ErrorList {
	var errs field.ErrorList
	if c.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else {
		errs = append(errs, dns1123Label(c.Name, p.Child("name"))...)
	}
	if c.Image == "" {
		errs = append(errs, field.Required(p.Child("image"), ""))
	} else if opts.isPod && strings.TrimSpace(c.Image) != c.Image {
		errs = append(errs, field.Invalid(p.Child("image"), c.Image, "must not have leading or trailing whitespace"))
	}
	errs = append(errs, oneOf(string(c.TerminationMessagePolicy), p.Child("terminationMessagePolicy"),
		string(corev1.TerminationMessageReadFile), string(corev1.TerminationMessageFallbackToLogsOnError))...)
	errs = append(errs, containerPorts(c.Ports, p.Child("ports"))...)
	errs = append(errs, env(c.Env, p.Child("env"))...)
	errs = append(errs, envFrom(c.EnvFrom, p.Child("envFrom"))...)
	errs = append(errs, volumeMounts(c.VolumeMounts, vols, p.Child("volumeMounts"))...)
	errs = append(errs, oneOf(string(c.ImagePullPolicy), p.Child("imagePullPolicy"),
		string(corev1.PullAlways), string(corev1.PullIfNotPresent), string(corev1.PullNever))...)
	errs = append(errs, resources(&c.Resources, p.Child("resources"))...)
	if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		errs = append(errs, messages(*sc.RunAsUser, p.Child("securityContext", "runAsUser"), utilvalidation.IsValidUserID(*sc.RunAsUser))...)
	}
	return errs
}

// containerPorts mirrors upstream's validateContainerPorts.
func containerPorts(ports []corev1.ContainerPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		idx := p.Index(i)
		if port.Name != "" {
			if msgs := utilvalidation.IsValidPortName(port.Name); len(msgs) > 0 {
				errs = append(errs, messages(port.Name, idx.Child("name"), msgs)...)
			} else if names.Has(port.Name) {
				errs = append(errs, field.Duplicate(idx.Child("name"), port.Name))
			} else {
				names.Insert(port.Name)
			}
		}
		if port.ContainerPort == 0 {
			errs = append(errs, field.Required(idx.Child("containerPort"), ""))
		} else {
			errs = append(errs, messages(port.ContainerPort, idx.Child("containerPort"), utilvalidation.IsValidPortNum(int(port.ContainerPort)))...)
		}
		if port.HostPort != 0 {
			errs = append(errs, messages(port.HostPort, idx.Child("hostPort"), utilvalidation.IsValidPortNum(int(port.HostPort)))...)
		}
		errs = append(errs, protocol(port.Protocol, idx.Child("protocol"))...)
	}
	return errs
}

func protocol(proto corev1.Protocol, p *field.Path) field.ErrorList {
	return oneOf(string(proto), p, string(corev1.ProtocolSCTP), string(corev1.ProtocolTCP), string(corev1.ProtocolUDP))
}

// hostPortConflicts: two containers that run at the same time cannot both
// listen on the node's port (protocol/hostIP/port).
func hostPortConflicts(containers []corev1.Container, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	seen := sets.New[string]()
	for i, c := range containers {
		for j, port := range c.Ports {
			if port.HostPort == 0 {
				continue
			}
			key := fmt.Sprintf("%s/%s/%d", port.Protocol, port.HostIP, port.HostPort)
			if seen.Has(key) {
				errs = append(errs, field.Duplicate(p.Index(i).Child("ports").Index(j).Child("hostPort"), key))
			}
			seen.Insert(key)
		}
	}
	return errs
}
