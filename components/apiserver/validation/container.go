package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
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

// probesAndLifecycle validates the probes and hooks of a container that
// keeps running (a regular container or a sidecar).
func probesAndLifecycle(c *corev1.Container, grace *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.Lifecycle != nil {
		if h := c.Lifecycle.PostStart; h != nil {
			errs = append(errs, handler(lifecycleHandler(h), grace, p.Child("lifecycle", "postStart"))...)
		}
		if h := c.Lifecycle.PreStop; h != nil {
			errs = append(errs, handler(lifecycleHandler(h), grace, p.Child("lifecycle", "preStop"))...)
		}
	}
	// A liveness or startup probe answers yes/no once; "succeed 3 times
	// before you believe it" only makes sense for readiness.
	for _, pr := range []struct {
		probe      *corev1.Probe
		name       string
		oneSuccess bool
	}{
		{c.LivenessProbe, "livenessProbe", true},
		{c.ReadinessProbe, "readinessProbe", false},
		{c.StartupProbe, "startupProbe", true},
	} {
		if pr.probe == nil {
			continue
		}
		pp := p.Child(pr.name)
		errs = append(errs, probe(pr.probe, grace, pp)...)
		if pr.oneSuccess && pr.probe.SuccessThreshold != 1 {
			errs = append(errs, field.Invalid(pp.Child("successThreshold"), pr.probe.SuccessThreshold, "must be 1"))
		}
		if !pr.oneSuccess && pr.probe.TerminationGracePeriodSeconds != nil {
			errs = append(errs, field.Invalid(pp.Child("terminationGracePeriodSeconds"), *pr.probe.TerminationGracePeriodSeconds, "must not be set for readinessProbes"))
		}
	}
	return errs
}

func probe(pr *corev1.Probe, grace *int64, p *field.Path) field.ErrorList {
	h := probeHandler{exec: pr.Exec, httpGet: pr.HTTPGet, tcpSocket: pr.TCPSocket, grpc: pr.GRPC}
	errs := handler(h, grace, p)
	errs = append(errs, nonNegative(pr.InitialDelaySeconds, p.Child("initialDelaySeconds"))...)
	errs = append(errs, nonNegative(pr.TimeoutSeconds, p.Child("timeoutSeconds"))...)
	errs = append(errs, nonNegative(pr.PeriodSeconds, p.Child("periodSeconds"))...)
	errs = append(errs, nonNegative(pr.SuccessThreshold, p.Child("successThreshold"))...)
	errs = append(errs, nonNegative(pr.FailureThreshold, p.Child("failureThreshold"))...)
	if pr.TerminationGracePeriodSeconds != nil && *pr.TerminationGracePeriodSeconds <= 0 {
		errs = append(errs, field.Invalid(p.Child("terminationGracePeriodSeconds"), *pr.TerminationGracePeriodSeconds, "must be greater than 0"))
	}
	return errs
}

// probeHandler is what probes and lifecycle hooks have in common: exactly
// one way to check on (or talk to) the container.
type probeHandler struct {
	exec      *corev1.ExecAction
	httpGet   *corev1.HTTPGetAction
	tcpSocket *corev1.TCPSocketAction
	grpc      *corev1.GRPCAction
	sleep     *corev1.SleepAction
}

func lifecycleHandler(h *corev1.LifecycleHandler) probeHandler {
	return probeHandler{exec: h.Exec, httpGet: h.HTTPGet, tcpSocket: h.TCPSocket, sleep: h.Sleep}
}

func handler(h probeHandler, grace *int64, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	count := 0
	one := func(set bool, name string, check func() field.ErrorList) {
		if !set {
			return
		}
		if count > 0 {
			errs = append(errs, field.Forbidden(p.Child(name), "may not specify more than 1 handler type"))
			return
		}
		count++
		errs = append(errs, check()...)
	}
	one(h.exec != nil, "exec", func() field.ErrorList {
		if len(h.exec.Command) == 0 {
			return field.ErrorList{field.Required(p.Child("exec", "command"), "")}
		}
		return nil
	})
	one(h.httpGet != nil, "httpGet", func() field.ErrorList {
		hp := p.Child("httpGet")
		var errs field.ErrorList
		if h.httpGet.Path == "" {
			errs = append(errs, field.Required(hp.Child("path"), ""))
		}
		errs = append(errs, portNumOrName(h.httpGet.Port, hp.Child("port"))...)
		if h.httpGet.Scheme != corev1.URISchemeHTTP && h.httpGet.Scheme != corev1.URISchemeHTTPS {
			errs = append(errs, field.NotSupported(hp.Child("scheme"), h.httpGet.Scheme, []corev1.URIScheme{corev1.URISchemeHTTP, corev1.URISchemeHTTPS}))
		}
		for _, hdr := range h.httpGet.HTTPHeaders {
			errs = append(errs, messages(hdr.Name, hp.Child("httpHeaders"), utilvalidation.IsHTTPHeaderName(hdr.Name))...)
		}
		return errs
	})
	one(h.tcpSocket != nil, "tcpSocket", func() field.ErrorList {
		return portNumOrName(h.tcpSocket.Port, p.Child("tcpSocket", "port"))
	})
	one(h.grpc != nil, "grpc", func() field.ErrorList {
		return portNumOrName(intstr.FromInt32(h.grpc.Port), p.Child("grpc", "port"))
	})
	one(h.sleep != nil, "sleep", func() field.ErrorList {
		if grace != nil && (h.sleep.Seconds < 0 || h.sleep.Seconds > *grace) {
			return field.ErrorList{field.Invalid(p.Child("sleep"), h.sleep.Seconds,
				fmt.Sprintf("must be non-negative and less than terminationGracePeriodSeconds (%d)", *grace))}
		}
		return nil
	})
	if count == 0 {
		errs = append(errs, field.Required(p, "must specify a handler type"))
	}
	return errs
}

// portNumOrName: a port is either a number 1-65535 or the name of a
// container port (an IANA service name, like "http").
func portNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	if port.Type == intstr.String {
		return messages(port.StrVal, p, utilvalidation.IsValidPortName(port.StrVal))
	}
	return messages(port.IntValue(), p, utilvalidation.IsValidPortNum(port.IntValue()))
}
