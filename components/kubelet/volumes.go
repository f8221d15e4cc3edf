package kubelet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kubelab/kubelab/components/kubelet/runtime"
	"github.com/kubelab/kubelab/components/kubelet/volumes"
)

// volumeSet wires the volumes package to the API: ConfigMaps and Secrets
// come from the API server (envSource), service account tokens from the
// TokenRequest API, cached until 80 % of their lifetime.
type volumeSet struct {
	m *volumes.Manager
	k *Kubelet

	mu        sync.Mutex
	tokens    map[string]cachedToken
	refreshed map[types.UID]time.Time
}

type cachedToken struct {
	token   string
	renewAt time.Time
}

func newVolumeSet(k *Kubelet) *volumeSet {
	v := &volumeSet{k: k, tokens: map[string]cachedToken{}, refreshed: map[types.UID]time.Time{}}
	v.m = &volumes.Manager{Root: k.o.RootDir, Source: k.env, Tokens: v,
		NodeAllocatable: allocatable(machineCapacity(&k.o), k.o.SystemReserved, k.o.KubeReserved)}
	return v
}

// Token implements volumes.TokenSource.
func (v *volumeSet) Token(pod *corev1.Pod, audience string, expirationSeconds int64) (string, error) {
	key := fmt.Sprintf("%s/%s/%s", pod.UID, audience, pod.Spec.ServiceAccountName)
	v.mu.Lock()
	if t, ok := v.tokens[key]; ok && time.Now().Before(t.renewAt) {
		v.mu.Unlock()
		return t.token, nil
	}
	v.mu.Unlock()
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: &expirationSeconds,
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if audience != "" {
		req.Spec.Audiences = []string{audience}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := v.k.kube.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("request a token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	life := time.Until(got.Status.ExpirationTimestamp.Time)
	v.mu.Lock()
	v.tokens[key] = cachedToken{token: got.Status.Token, renewAt: time.Now().Add(life * 8 / 10)}
	v.mu.Unlock()
	return got.Status.Token, nil
}

// setupVolumes prepares every volume of the pod; warnings (a token that
// could not be issued) become events, errors stop the pod from starting.
func (k *Kubelet) setupVolumes(_ context.Context, pod *corev1.Pod) (map[string]string, error) {
	vols, err := k.vols.m.SetUp(pod)
	if err != nil {
		return nil, err
	}
	for _, w := range vols.Warnings {
		k.event(pod, corev1.EventTypeWarning, "FailedMount", "%v", w)
	}
	k.vols.mu.Lock()
	k.vols.refreshed[pod.UID] = time.Now()
	k.vols.mu.Unlock()
	return vols.Paths, nil
}

// refreshVolumes rewrites ConfigMap, Secret and downward API volumes whose
// source changed, about once a minute (the kubelet's sync period), so a
// `kubectl edit configmap` reaches running pods.
func (k *Kubelet) refreshVolumes(pod *corev1.Pod) {
	k.vols.mu.Lock()
	last := k.vols.refreshed[pod.UID]
	due := time.Since(last) > 30*time.Second
	if due {
		k.vols.refreshed[pod.UID] = time.Now()
	}
	k.vols.mu.Unlock()
	if !due {
		return
	}
	if changed, err := k.vols.m.Refresh(pod); err != nil {
		k.event(pod, corev1.EventTypeWarning, "FailedMount", "%v", err)
	} else if len(changed) > 0 {
		k.event(pod, corev1.EventTypeNormal, "VolumesUpdated", "updated volumes %v", changed)
	}
}

// containerMounts maps a container's volumeMounts onto the pod's volumes.
func (k *Kubelet) containerMounts(pod *corev1.Pod, c *corev1.Container, vols map[string]string, env []string) ([]runtime.Mount, error) {
	envMap := map[string]string{}
	for _, kv := range env {
		if name, val, ok := strings.Cut(kv, "="); ok {
			envMap[name] = val
		}
	}
	return volumes.Mounts(pod, c, vols, envMap)
}

func (k *Kubelet) tearDownVolumes(uid types.UID) error {
	k.vols.mu.Lock()
	delete(k.vols.refreshed, uid)
	for key := range k.vols.tokens {
		if strings.HasPrefix(key, string(uid)+"/") {
			delete(k.vols.tokens, key)
		}
	}
	k.vols.mu.Unlock()
	return k.vols.m.TearDown(string(uid))
}
