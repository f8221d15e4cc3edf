package volumes

import (
	"errors"
	"fmt"
	"os"

	"github.com/kubelab/kubelab/components/kubelet/containerenv"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// defaultMode is the API default for defaultMode (0644).
const defaultMode = 0o644

func modeOr(m *int32, def os.FileMode) os.FileMode {
	if m != nil {
		return os.FileMode(*m) & os.ModePerm
	}
	return def
}

func isTrue(b *bool) bool { return b != nil && *b }

// keysPayload projects a ConfigMap's or Secret's data: every key, or only
// the listed items (a missing listed key is an error unless optional).
func keysPayload(kind string, data map[string][]byte, items []corev1.KeyToPath, mode os.FileMode, optional bool, out map[string]File) error {
	if len(items) == 0 {
		for k, v := range data {
			out[k] = File{Data: v, Mode: mode}
		}
		return nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return fmt.Errorf("%s references non-existent %s key: %s", kind, map[string]string{"configmap": "config", "secret": "secret"}[kind], it.Key)
		}
		out[it.Path] = File{Data: v, Mode: modeOr(it.Mode, mode)}
	}
	return nil
}

// configMapPayload adds a ConfigMap's projection to out. A missing
// optional ConfigMap adds nothing.
func (m *Manager) configMapPayload(ns, name string, items []corev1.KeyToPath, mode os.FileMode, optional bool, out map[string]File) error {
	cm, err := m.Source.ConfigMap(ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			if optional {
				return nil
			}
			return fmt.Errorf("configmap %q not found", name)
		}
		return fmt.Errorf("get configmap %s/%s: %w", ns, name, err)
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keysPayload("configmap", data, items, mode, optional, out)
}

func (m *Manager) secretPayload(ns, name string, items []corev1.KeyToPath, mode os.FileMode, optional bool, out map[string]File) error {
	s, err := m.Source.Secret(ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) {
			if optional {
				return nil
			}
			return fmt.Errorf("secret %q not found", name)
		}
		return fmt.Errorf("get secret %s/%s: %w", ns, name, err)
	}
	return keysPayload("secret", s.Data, items, mode, optional, out)
}

// downwardPayload projects pod fields and container resources.
func (m *Manager) downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, mode os.FileMode, out map[string]File) error {
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = containerenv.PodFieldValue(pod, it.FieldRef, nil, nil)
		case it.ResourceFieldRef != nil:
			v, err = containerenv.ResourceFieldValue(pod, "", it.ResourceFieldRef, m.NodeAllocatable)
		default:
			err = fmt.Errorf("downwardAPI item %q has neither fieldRef nor resourceFieldRef", it.Path)
		}
		if err != nil {
			return err
		}
		out[it.Path] = File{Data: []byte(v), Mode: modeOr(it.Mode, mode)}
	}
	return nil
}

// projectedPayload merges the sources of a projected volume. A token source
// that cannot be served is skipped and reported in warn, so the rest of the
// volume (often the kube-root-ca.crt and namespace files) still appears.
func (m *Manager) projectedPayload(pod *corev1.Pod, p *corev1.ProjectedVolumeSource, out map[string]File) (warn error, err error) {
	mode := modeOr(p.DefaultMode, defaultMode)
	for _, src := range p.Sources {
		switch {
		case src.ConfigMap != nil:
			err = m.configMapPayload(pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, mode, isTrue(src.ConfigMap.Optional), out)
		case src.Secret != nil:
			err = m.secretPayload(pod.Namespace, src.Secret.Name, src.Secret.Items, mode, isTrue(src.Secret.Optional), out)
		case src.DownwardAPI != nil:
			err = m.downwardPayload(pod, src.DownwardAPI.Items, mode, out)
		case src.ServiceAccountToken != nil:
			t := src.ServiceAccountToken
			if m.Tokens == nil {
				warn = errors.Join(warn, fmt.Errorf("token %q: %w", t.Path, ErrNoTokenSource))
				continue
			}
			exp := int64(3600)
			if t.ExpirationSeconds != nil {
				exp = *t.ExpirationSeconds
			}
			var tok string
			tok, err = m.Tokens.Token(pod, t.Audience, exp)
			if err == nil {
				out[t.Path] = File{Data: []byte(tok), Mode: mode}
			}
		case src.ClusterTrustBundle != nil:
			err = errors.New("clusterTrustBundle projections are not supported by kubelab")
		case src.PodCertificate != nil:
			err = errors.New("podCertificate projections are not supported by kubelab")
		}
		if err != nil {
			return warn, err
		}
	}
	return warn, nil
}
