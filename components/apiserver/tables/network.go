package tables

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// listLimit is how many addresses or ports a cell lists before it
// abbreviates to "a,b,c + 4 more...".
const listLimit = 3

var servicePrinter = typed[corev1.Service]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Type", "string", corev1.ServiceSpec{}.SwaggerDoc()["type"]),
		column("Cluster-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["clusterIP"]),
		column("External-IP", "string", corev1.ServiceSpec{}.SwaggerDoc()["externalIPs"]),
		column("Port(s)", "string", corev1.ServiceSpec{}.SwaggerDoc()["ports"]),
		ageColumn(),
		wide("Selector", "string", corev1.ServiceSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(svc *corev1.Service) []interface{} {
		clusterIP := svc.Spec.ClusterIP
		if len(svc.Spec.ClusterIPs) > 0 {
			clusterIP = svc.Spec.ClusterIPs[0]
		}
		return []interface{}{
			svc.Name,
			string(svc.Spec.Type),
			orNone(clusterIP),
			serviceExternalIP(svc),
			orNone(servicePorts(svc.Spec.Ports)),
			since(svc.CreationTimestamp),
			labels.FormatLabels(svc.Spec.Selector),
		}
	},
}

// serviceExternalIP is what EXTERNAL-IP shows: the external IPs an admin
// assigned, the load balancer's addresses ("<pending>" until a cloud
// controller provides them), or the DNS name of an ExternalName service.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		return orNone(strings.Join(svc.Spec.ExternalIPs, ","))
	case corev1.ServiceTypeLoadBalancer:
		seen := map[string]bool{}
		var ingress []string
		for _, in := range svc.Status.LoadBalancer.Ingress {
			addr := in.IP
			if addr == "" {
				addr = in.Hostname
			}
			if addr != "" && !seen[addr] {
				seen[addr] = true
				ingress = append(ingress, addr)
			}
		}
		sort.Strings(ingress)
		all := append(ingress, svc.Spec.ExternalIPs...)
		if len(all) == 0 {
			return "<pending>"
		}
		return strings.Join(all, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return "<unknown>"
}

// servicePorts renders "80/TCP", or "80:30080/TCP" when a node port is
// allocated, comma-separated.
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

// Endpoints is deprecated since 1.33 in favour of EndpointSlice, but still
// served and still what `kubectl get endpoints` lists.
var endpointsPrinter = typed[corev1.Endpoints]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Endpoints", "string", corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn(),
	},
	cells: func(ep *corev1.Endpoints) []interface{} {
		return []interface{}{ep.Name, endpointsCell(ep.Subsets), since(ep.CreationTimestamp)}
	},
}

// endpointsCell lists "ip:port" pairs (just "ip" for a headless service
// without ports), at most three, then "+ N more...".
func endpointsCell(subsets []corev1.EndpointSubset) string {
	if len(subsets) == 0 {
		return "<none>"
	}
	var list []string
	count := 0
	add := func(s string) {
		count++
		if len(list) < listLimit {
			list = append(list, s)
		}
	}
	for _, ss := range subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				add(a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				add(net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	s := strings.Join(list, ",")
	if count > listLimit {
		return fmt.Sprintf("%s + %d more...", s, count-listLimit)
	}
	return s
}

var endpointSlicePrinter = typed[discoveryv1.EndpointSlice]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("AddressType", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["addressType"]),
		column("Ports", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["ports"]),
		column("Endpoints", "string", discoveryv1.EndpointSlice{}.SwaggerDoc()["endpoints"]),
		ageColumn(),
	},
	cells: func(es *discoveryv1.EndpointSlice) []interface{} {
		var ports, addrs []string
		for _, p := range es.Ports {
			switch {
			case p.Port != nil:
				ports = append(ports, strconv.Itoa(int(*p.Port)))
			case p.Name != nil:
				ports = append(ports, *p.Name)
			default:
				ports = append(ports, "*")
			}
		}
		for _, e := range es.Endpoints {
			addrs = append(addrs, e.Addresses...)
		}
		return []interface{}{es.Name, string(es.AddressType), abbreviate(ports), abbreviate(addrs), since(es.CreationTimestamp)}
	},
}

// abbreviate joins up to three items, "+ N more..." beyond, "<unset>" for none.
func abbreviate(items []string) string {
	if len(items) == 0 {
		return "<unset>"
	}
	if len(items) > listLimit {
		return fmt.Sprintf("%s + %d more...", strings.Join(items[:listLimit], ","), len(items)-listLimit)
	}
	return strings.Join(items, ",")
}
