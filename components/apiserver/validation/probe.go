package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Probes are how the kubelet learns whether a container is alive
// (liveness: restart it if not), ready (readiness: send it Service traffic)
// and started (startup: hold the other probes off); lifecycle hooks are
// what it runs after start and before stop. Both use the same handlers.

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
