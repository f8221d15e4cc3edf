package tables

import (
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Node roles are not a field of the Node: they are read from labels, either
// node-role.kubernetes.io/<role>="" (what kubeadm sets) or the older
// kubernetes.io/role=<role>.
const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	legacyNodeRoleLabel = "kubernetes.io/role"
)

var nodePrinter = typed[corev1.Node]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Status", "string", "The status of the node"),
		column("Roles", "string", "The roles of the node"),
		ageColumn(),
		column("Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]),
		wide("Internal-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
		wide("External-IP", "string", corev1.NodeStatus{}.SwaggerDoc()["addresses"]),
		wide("OS-Image", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["osImage"]),
		wide("Kernel-Version", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]),
		wide("Container-Runtime", "string", corev1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]),
	},
	cells: func(n *corev1.Node) []interface{} {
		info := n.Status.NodeInfo
		return []interface{}{
			n.Name,
			nodeStatus(n),
			orNone(strings.Join(nodeRoles(n), ",")),
			since(n.CreationTimestamp),
			info.KubeletVersion,
			nodeAddress(n, corev1.NodeInternalIP),
			nodeAddress(n, corev1.NodeExternalIP),
			orUnknown(info.OSImage),
			orUnknown(info.KernelVersion),
			orUnknown(info.ContainerRuntimeVersion),
		}
	},
}

// nodeStatus is "Ready" or "NotReady" from the Ready condition ("Unknown"
// before the kubelet reported any), plus ",SchedulingDisabled" for a
// cordoned node.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		status = "Not" + string(c.Type)
		if c.Status == corev1.ConditionTrue {
			status = string(c.Type)
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

func nodeRoles(n *corev1.Node) []string {
	seen := map[string]bool{}
	for k, v := range n.Labels {
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			if role := strings.TrimPrefix(k, nodeRoleLabelPrefix); role != "" {
				seen[role] = true
			}
		case k == legacyNodeRoleLabel && v != "":
			seen[v] = true
		}
	}
	roles := make([]string, 0, len(seen))
	for r := range seen {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress returns the first address of the given type, or "<none>".
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return "<none>"
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

var namespacePrinter = typed[corev1.Namespace]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Status", "string", "The status of the namespace"),
		ageColumn(),
	},
	cells: func(ns *corev1.Namespace) []interface{} {
		return []interface{}{ns.Name, string(ns.Status.Phase), since(ns.CreationTimestamp)}
	},
}

var configMapPrinter = typed[corev1.ConfigMap]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Data", "string", corev1.ConfigMap{}.SwaggerDoc()["data"]),
		ageColumn(),
	},
	cells: func(cm *corev1.ConfigMap) []interface{} {
		return []interface{}{cm.Name, int64(len(cm.Data) + len(cm.BinaryData)), since(cm.CreationTimestamp)}
	},
}

var secretPrinter = typed[corev1.Secret]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Type", "string", corev1.Secret{}.SwaggerDoc()["type"]),
		column("Data", "string", corev1.Secret{}.SwaggerDoc()["data"]),
		ageColumn(),
	},
	cells: func(s *corev1.Secret) []interface{} {
		return []interface{}{s.Name, string(s.Type), int64(secretKeys(s)), since(s.CreationTimestamp)}
	},
}

// secretKeys counts data keys. stringData is write-only sugar that the real
// server merges into data on write; count it too in case it was stored as-is.
func secretKeys(s *corev1.Secret) int {
	n := len(s.Data)
	for k := range s.StringData {
		if _, dup := s.Data[k]; !dup {
			n++
		}
	}
	return n
}

var serviceAccountPrinter = typed[corev1.ServiceAccount]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Secrets", "string", corev1.ServiceAccount{}.SwaggerDoc()["secrets"]),
		ageColumn(),
	},
	cells: func(sa *corev1.ServiceAccount) []interface{} {
		return []interface{}{sa.Name, int64(len(sa.Secrets)), since(sa.CreationTimestamp)}
	},
}

var replicationControllerPrinter = typed[corev1.ReplicationController]{
	columns: []metav1.TableColumnDefinition{
		nameColumn(),
		column("Desired", "integer", corev1.ReplicationControllerSpec{}.SwaggerDoc()["replicas"]),
		column("Current", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["replicas"]),
		column("Ready", "integer", corev1.ReplicationControllerStatus{}.SwaggerDoc()["readyReplicas"]),
		ageColumn(),
		wide("Containers", "string", containersDoc),
		wide("Images", "string", imagesDoc),
		wide("Selector", "string", corev1.ReplicationControllerSpec{}.SwaggerDoc()["selector"]),
	},
	cells: func(rc *corev1.ReplicationController) []interface{} {
		var containers []corev1.Container
		if rc.Spec.Template != nil {
			containers = rc.Spec.Template.Spec.Containers
		}
		names, images := containerCells(containers)
		return []interface{}{
			rc.Name,
			int64(replicasOr(rc.Spec.Replicas, 1)),
			int64(rc.Status.Replicas),
			int64(rc.Status.ReadyReplicas),
			since(rc.CreationTimestamp),
			names, images,
			labels.FormatLabels(rc.Spec.Selector),
		}
	},
}

const (
	containersDoc = "Names of each container in the template."
	imagesDoc     = "Images referenced by each container in the template."
)

// containerCells lays the containers of a pod template out on one line:
// "nginx,sidecar" and "nginx:1.27,busybox".
func containerCells(containers []corev1.Container) (names, images string) {
	n := make([]string, len(containers))
	im := make([]string, len(containers))
	for i, c := range containers {
		n[i], im[i] = c.Name, c.Image
	}
	return strings.Join(n, ","), strings.Join(im, ",")
}
