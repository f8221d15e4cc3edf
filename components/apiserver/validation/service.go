package validation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// service mirrors upstream's ValidateService. It runs before the IP
// allocator, so on create a Service usually has no clusterIP yet; the
// allocator fills clusterIP(s) and nodePorts after validation.
func service(s *corev1.Service) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, kindService)
	spec := &s.Spec
	headless := isHeadless(s)
	if len(spec.Ports) == 0 && !headless && spec.Type != corev1.ServiceTypeExternalName {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	switch spec.Type {
	case corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeNodePort:
		if headless {
			errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), corev1.ClusterIPNone,
				"may not be set to 'None' for "+string(spec.Type)+" services"))
		}
	case corev1.ServiceTypeExternalName:
		// An ExternalName Service is only a DNS CNAME: no virtual IP.
		if spec.ClusterIP != "" || len(spec.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if len(spec.IPFamilies) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilies"), "may not be set for ExternalName services"))
		}
		if spec.IPFamilyPolicy != nil {
			errs = append(errs, field.Forbidden(specPath.Child("ipFamilyPolicy"), "may not be set for ExternalName services"))
		}
		if cname := strings.TrimSuffix(spec.ExternalName, "."); cname != "" {
			errs = append(errs, dns1123Subdomain(cname, specPath.Child("externalName"))...)
		} else {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		}
	}

	names := sets.New[string]()
	type protoPort struct {
		proto corev1.Protocol
		port  int32
	}
	ports, nodePorts := map[protoPort]bool{}, map[protoPort]bool{}
	for i := range spec.Ports {
		port, pp := &spec.Ports[i], specPath.Child("ports").Index(i)
		errs = append(errs, servicePort(port, len(spec.Ports) > 1, names, pp)...)
		if spec.Type == corev1.ServiceTypeClusterIP && port.NodePort != 0 {
			errs = append(errs, field.Forbidden(pp.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		if port.NodePort != 0 {
			key := protoPort{port.Protocol, port.NodePort}
			if nodePorts[key] {
				errs = append(errs, field.Duplicate(pp.Child("nodePort"), port.NodePort))
			}
			nodePorts[key] = true
		}
		key := protoPort{port.Protocol, port.Port}
		if ports[key] {
			errs = append(errs, field.Duplicate(pp, corev1.ServicePort{Protocol: port.Protocol, Port: port.Port}))
		}
		ports[key] = true
	}

	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabels(spec.Selector, specPath.Child("selector"))...)
	}
	errs = append(errs, oneOf(string(spec.SessionAffinity), specPath.Child("sessionAffinity"),
		string(corev1.ServiceAffinityClientIP), string(corev1.ServiceAffinityNone))...)
	if spec.SessionAffinity == corev1.ServiceAffinityNone && spec.SessionAffinityConfig != nil {
		errs = append(errs, field.Forbidden(specPath.Child("sessionAffinityConfig"), "must not be set when session affinity is None"))
	}
	errs = append(errs, clusterIPs(s)...)
	for i, ip := range spec.ExternalIPs {
		errs = append(errs, utilvalidation.IsValidIP(specPath.Child("externalIPs").Index(i), ip)...)
	}
	errs = append(errs, oneOf(string(spec.Type), specPath.Child("type"),
		string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeExternalName), string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeNodePort))...)
	if spec.AllocateLoadBalancerNodePorts != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("allocateLoadBalancerNodePorts"), "may only be used when `type` is 'LoadBalancer'"))
	}
	if spec.LoadBalancerClass != nil && spec.Type != corev1.ServiceTypeLoadBalancer {
		errs = append(errs, field.Forbidden(specPath.Child("loadBalancerClass"), "may only be used when `type` is 'LoadBalancer'"))
	}
	return append(errs, trafficPolicies(s)...)
}

// servicePort: with more than one port every port needs a name, because
// EndpointSlices and SRV records refer to ports by name.
func servicePort(sp *corev1.ServicePort, requireName bool, names sets.Set[string], p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if requireName && sp.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	} else if sp.Name != "" {
		errs = append(errs, dns1123Label(sp.Name, p.Child("name"))...)
		if names.Has(sp.Name) {
			errs = append(errs, field.Duplicate(p.Child("name"), sp.Name))
		}
		names.Insert(sp.Name)
	}
	errs = append(errs, messages(sp.Port, p.Child("port"), utilvalidation.IsValidPortNum(int(sp.Port)))...)
	errs = append(errs, protocol(sp.Protocol, p.Child("protocol"))...)
	errs = append(errs, portNumOrName(sp.TargetPort, p.Child("targetPort"))...)
	if sp.NodePort != 0 {
		errs = append(errs, messages(sp.NodePort, p.Child("nodePort"), utilvalidation.IsValidPortNum(int(sp.NodePort)))...)
	}
	if sp.AppProtocol != nil {
		errs = append(errs, qualifiedName(*sp.AppProtocol, p.Child("appProtocol"))...)
	}
	return errs
}

// clusterIPs checks the IPs a user (or the allocator) set: "None" alone, or
// up to one IP per family, with clusterIP equal to clusterIPs[0].
func clusterIPs(s *corev1.Service) field.ErrorList {
	spec := &s.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	var errs field.ErrorList
	ipsPath := specPath.Child("clusterIPs")
	switch {
	case spec.ClusterIP != "" && len(spec.ClusterIPs) == 0:
		errs = append(errs, field.Required(ipsPath, ""))
	case spec.ClusterIP != "" && spec.ClusterIPs[0] != spec.ClusterIP:
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "first value must match `clusterIP`"))
	case spec.ClusterIP == "" && len(spec.ClusterIPs) > 0:
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "must be empty when `clusterIP` is not specified"))
	}
	for i, ip := range spec.ClusterIPs {
		if ip == corev1.ClusterIPNone {
			if i > 0 || len(spec.ClusterIPs) > 1 {
				errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "'None' must be the first and only value"))
			}
			continue
		}
		errs = append(errs, utilvalidation.IsValidIP(ipsPath.Index(i), ip)...)
	}
	if len(spec.ClusterIPs) > 2 {
		errs = append(errs, field.Invalid(ipsPath, spec.ClusterIPs, "may only hold up to 2 values"))
	}
	for i, fam := range spec.IPFamilies {
		if fam != corev1.IPv4Protocol && fam != corev1.IPv6Protocol {
			errs = append(errs, field.NotSupported(specPath.Child("ipFamilies").Index(i), fam, []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}))
		}
	}
	if pol := spec.IPFamilyPolicy; pol != nil {
		errs = append(errs, oneOf(string(*pol), specPath.Child("ipFamilyPolicy"), string(corev1.IPFamilyPolicyPreferDualStack),
			string(corev1.IPFamilyPolicyRequireDualStack), string(corev1.IPFamilyPolicySingleStack))...)
	}
	return errs
}

// trafficPolicies: externalTrafficPolicy only means something for traffic
// that enters from outside (NodePort, LoadBalancer, externalIPs);
// internalTrafficPolicy for every Service with a cluster IP.
func trafficPolicies(s *corev1.Service) field.ErrorList {
	spec := &s.Spec
	var errs field.ErrorList
	ext := specPath.Child("externalTrafficPolicy")
	external := externallyAccessible(s)
	switch {
	case !external && spec.ExternalTrafficPolicy != "":
		errs = append(errs, field.Invalid(ext, spec.ExternalTrafficPolicy, "may only be set for externally-accessible services"))
	case external:
		errs = append(errs, oneOf(string(spec.ExternalTrafficPolicy), ext,
			string(corev1.ServiceExternalTrafficPolicyCluster), string(corev1.ServiceExternalTrafficPolicyLocal))...)
	}
	health := specPath.Child("healthCheckNodePort")
	needsHealthCheck := spec.Type == corev1.ServiceTypeLoadBalancer && spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
	if !needsHealthCheck && spec.HealthCheckNodePort != 0 {
		errs = append(errs, field.Invalid(health, spec.HealthCheckNodePort, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
	}
	itp := specPath.Child("internalTrafficPolicy")
	switch {
	case spec.InternalTrafficPolicy == nil:
		if spec.Type != corev1.ServiceTypeExternalName {
			errs = append(errs, field.Required(itp, ""))
		}
	default:
		errs = append(errs, oneOf(string(*spec.InternalTrafficPolicy), itp,
			string(corev1.ServiceInternalTrafficPolicyCluster), string(corev1.ServiceInternalTrafficPolicyLocal))...)
	}
	return errs
}

func isHeadless(s *corev1.Service) bool {
	return s.Spec.ClusterIP == corev1.ClusterIPNone ||
		(len(s.Spec.ClusterIPs) == 1 && s.Spec.ClusterIPs[0] == corev1.ClusterIPNone)
}
