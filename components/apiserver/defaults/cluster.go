package defaults

import (
	corev1 "k8s.io/api/core/v1"
)

// namespace mirrors SetDefaults_Namespace, SetDefaults_NamespaceStatus and
// the namespace strategy's PrepareForCreate.
func namespace(ns *corev1.Namespace) {
	// Every namespace carries its own name as a label, so that
	// NetworkPolicies and webhooks can select namespaces by name.
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
	// The "kubernetes" finalizer is what makes `kubectl delete ns` wait for
	// the namespace controller to empty the namespace. It is added only to a
	// brand-new namespace (no phase yet): the controller removes it through
	// /finalize, and adding it back there would make deletion hang forever.
	if ns.Status.Phase == "" && ns.DeletionTimestamp == nil {
		if len(ns.Spec.Finalizers) == 0 {
			ns.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
		ns.Status.Phase = corev1.NamespaceActive
	}
}

// node mirrors SetDefaults_NodeStatus and the podCIDR conversion.
func node(n *corev1.Node) {
	// allocatable is what the scheduler may hand out; a kubelet that only
	// reports capacity reserves nothing.
	if n.Status.Allocatable == nil && n.Status.Capacity != nil {
		n.Status.Allocatable = n.Status.Capacity.DeepCopy()
	}
	// podCIDR is the single-stack spelling of podCIDRs[0] (the node IPAM
	// controller may set either one).
	if n.Spec.PodCIDR != "" && len(n.Spec.PodCIDRs) == 0 {
		n.Spec.PodCIDRs = []string{n.Spec.PodCIDR}
	}
	if n.Spec.PodCIDR == "" && len(n.Spec.PodCIDRs) > 0 {
		n.Spec.PodCIDR = n.Spec.PodCIDRs[0]
	}
}

// secret mirrors SetDefaults_Secret and the v1 conversion of stringData.
func secret(s *corev1.Secret) {
	if s.Type == "" {
		s.Type = corev1.SecretTypeOpaque
	}
	// stringData is a write-only convenience: its entries overwrite data and
	// it is never stored, so `kubectl get secret -o yaml` shows only the
	// base64 data, exactly as on a real cluster.
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
	}
	s.StringData = nil
}
