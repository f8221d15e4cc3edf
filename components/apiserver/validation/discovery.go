package validation

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Upstream's size limits: a slice is meant to stay small enough to send to
// every kube-proxy on every change.
const (
	maxSliceEndpoints = 1000
	maxSliceAddresses = 100
	maxSlicePorts     = 20000
)

// endpointSlice mirrors upstream's ValidateEndpointSlice
// (pkg/apis/discovery/validation): the addresses behind a Service, in
// one address family, that kube-proxy programs into the data path.
func endpointSlice(s *discoveryv1.EndpointSlice) field.ErrorList {
	errs := objectMeta(&s.ObjectMeta, schema.GroupKind{Group: "discovery.k8s.io", Kind: "EndpointSlice"})
	errs = append(errs, oneOf(string(s.AddressType), field.NewPath("addressType"),
		string(discoveryv1.AddressTypeFQDN), string(discoveryv1.AddressTypeIPv4), string(discoveryv1.AddressTypeIPv6))...)

	ep := field.NewPath("endpoints")
	if len(s.Endpoints) > maxSliceEndpoints {
		errs = append(errs, field.TooMany(ep, len(s.Endpoints), maxSliceEndpoints))
	}
	for i, e := range s.Endpoints {
		idx := ep.Index(i)
		ap := idx.Child("addresses")
		switch {
		case len(e.Addresses) == 0:
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		case len(e.Addresses) > maxSliceAddresses:
			errs = append(errs, field.TooMany(ap, len(e.Addresses), maxSliceAddresses))
		}
		for j, addr := range e.Addresses {
			switch s.AddressType {
			case discoveryv1.AddressTypeIPv4:
				errs = append(errs, familyIP(addr, false, ap.Index(j))...)
			case discoveryv1.AddressTypeIPv6:
				errs = append(errs, familyIP(addr, true, ap.Index(j))...)
			case discoveryv1.AddressTypeFQDN:
				errs = append(errs, utilvalidation.IsFullyQualifiedDomainName(ap.Index(j), addr)...)
			}
		}
		if e.NodeName != nil {
			errs = append(errs, messages(*e.NodeName, idx.Child("nodeName"), apimachineryvalidation.NameIsDNSSubdomain(*e.NodeName, false))...)
		}
		if e.Hostname != nil {
			errs = append(errs, dns1123Label(*e.Hostname, idx.Child("hostname"))...)
		}
		if len(e.DeprecatedTopology) > 0 {
			errs = append(errs, metav1validation.ValidateLabels(e.DeprecatedTopology, idx.Child("deprecatedTopology"))...)
		}
	}

	pp := field.NewPath("ports")
	if len(s.Ports) > maxSlicePorts {
		errs = append(errs, field.TooMany(pp, len(s.Ports), maxSlicePorts))
	}
	names := sets.New[string]()
	for i, port := range s.Ports {
		idx := pp.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			errs = append(errs, dns1123Label(name, idx.Child("name"))...)
		}
		if names.Has(name) {
			errs = append(errs, field.Duplicate(idx.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(idx.Child("protocol"), ""))
		} else {
			errs = append(errs, protocol(*port.Protocol, idx.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, messages(*port.Port, idx.Child("port"), utilvalidation.IsValidPortNum(int(*port.Port)))...)
		}
		if port.AppProtocol != nil {
			errs = append(errs, qualifiedName(*port.AppProtocol, idx.Child("appProtocol"))...)
		}
	}
	return errs
}

// familyIP checks an address is an IP of the slice's family.
func familyIP(addr string, v6 bool, p *field.Path) field.ErrorList {
	if errs := utilvalidation.IsValidIP(p, addr); len(errs) > 0 {
		return errs
	}
	isV6 := netutils.IsIPv6String(addr)
	switch {
	case v6 && !isV6:
		return field.ErrorList{field.Invalid(p, addr, "must be a valid IPv6 address")}
	case !v6 && isV6:
		return field.ErrorList{field.Invalid(p, addr, "must be a valid IPv4 address")}
	}
	return nil
}

// endpoints mirrors upstream's ValidateEndpoints: the hand-written (or
// legacy controller) list of addresses behind a Service.
func endpoints(e *corev1.Endpoints) field.ErrorList {
	errs := objectMeta(&e.ObjectMeta, schema.GroupKind{Kind: "Endpoints"})
	for i, ss := range e.Subsets {
		sp := field.NewPath("subsets").Index(i)
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j, a := range ss.Addresses {
			errs = append(errs, utilvalidation.IsValidIP(sp.Child("addresses").Index(j).Child("ip"), a.IP)...)
		}
		for j, a := range ss.NotReadyAddresses {
			errs = append(errs, utilvalidation.IsValidIP(sp.Child("notReadyAddresses").Index(j).Child("ip"), a.IP)...)
		}
		for j, port := range ss.Ports {
			pp := sp.Child("ports").Index(j)
			if len(ss.Ports) > 1 && port.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if port.Name != "" {
				errs = append(errs, dns1123Label(port.Name, pp.Child("name"))...)
			}
			errs = append(errs, messages(port.Port, pp.Child("port"), utilvalidation.IsValidPortNum(int(port.Port)))...)
			errs = append(errs, protocol(port.Protocol, pp.Child("protocol"))...)
		}
	}
	return errs
}
