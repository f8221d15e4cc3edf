package containerenv

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeLookup struct {
	cms      map[string]*corev1.ConfigMap
	secrets  map[string]*corev1.Secret
	services map[string][]*corev1.Service
	err      error
}

func (f *fakeLookup) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	if f.err != nil {
		return nil, f.err
	}
	if cm, ok := f.cms[ns+"/"+name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f *fakeLookup) Secret(ns, name string) (*corev1.Secret, error) {
	if s, ok := f.secrets[ns+"/"+name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func (f *fakeLookup) Services(ns string) ([]*corev1.Service, error) { return f.services[ns], nil }

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func newLookup() *fakeLookup {
	return &fakeLookup{
		cms: map[string]*corev1.ConfigMap{"app/cfg": {ObjectMeta: metav1.ObjectMeta{Name: "cfg"},
			Data: map[string]string{"mode": "fast", "LEVEL": "3", "bad key": "x", "1NUM": "y"}}},
		secrets: map[string]*corev1.Secret{"app/pw": {ObjectMeta: metav1.ObjectMeta{Name: "pw"},
			Data: map[string][]byte{"password": []byte("s3cret")}}},
		services: map[string][]*corev1.Service{
			"default": {svc("default", "kubernetes", "10.32.0.1", corev1.ServicePort{Name: "https", Port: 443})},
			"app": {
				svc("app", "my-db", "10.32.0.9", corev1.ServicePort{Port: 5432}),
				svc("app", "headless", "None", corev1.ServicePort{Port: 80}),
			},
		},
	}
}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "app", UID: "uid-1",
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"note": "hi"}},
		Spec: corev1.PodSpec{NodeName: "node-1", ServiceAccountName: "sa"},
	}
}

func envOf(r *Result) map[string]string { return Map(r.Env) }

func TestEnvironmentFull(t *testing.T) {
	pod := testPod()
	c := corev1.Container{
		Name: "main",
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")},
		},
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}, Prefix: "CFG_"},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "pw"}}},
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Optional: new(true)}},
		},
		Env: []corev1.EnvVar{
			{Name: "GREETING", Value: "hello $(CFG_mode) $(MY_DB_SERVICE_HOST) $$(CFG_mode) $(NOPE)"},
			{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			{Name: "POD_NS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
			{Name: "POD_UID", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.uid"}}},
			{Name: "APP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
			{Name: "NOTE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}}},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "SA", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.serviceAccountName"}}},
			{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "POD_IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIPs"}}},
			{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIP"}}},
			{Name: "HOST_IPS", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.hostIPs"}}},
			{Name: "CPU_LIMIT", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
			{Name: "CPU_REQ_M", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("1m")}}},
			{Name: "MEM_LIMIT_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
			{Name: "MEM_REQ", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.memory"}}},
			{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}, Key: "mode"}}},
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "pw"}, Key: "password"}}},
			{Name: "OPT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "pw"}, Key: "nokey", Optional: new(true)}}},
			{Name: "CFG_LEVEL", Value: "override"},
			{Name: "EMPTY"},
		},
	}
	pod.Spec.Containers = []corev1.Container{c}
	res, err := Environment(Options{Pod: pod, Container: &pod.Spec.Containers[0], Lookup: newLookup(),
		PodIPs: []string{"10.200.0.4", "fd00::4"}, HostIPs: []string{"10.240.0.11"},
		NodeAllocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}})
	if err != nil {
		t.Fatal(err)
	}
	got := envOf(res)
	want := map[string]string{
		"GREETING": "hello fast 10.32.0.9 $(CFG_mode) $(NOPE)",
		"POD_NAME": "web-1", "POD_NS": "app", "POD_UID": "uid-1", "APP": "web", "NOTE": "hi",
		"NODE": "node-1", "SA": "sa", "POD_IP": "10.200.0.4", "POD_IPS": "10.200.0.4,fd00::4",
		"HOST_IP": "10.240.0.11", "HOST_IPS": "10.240.0.11",
		"CPU_LIMIT": "2", "CPU_REQ_M": "250", "MEM_LIMIT_MI": "2048", "MEM_REQ": "67108864",
		"MODE": "fast", "PW": "s3cret", "password": "s3cret", "CFG_mode": "fast", "CFG_LEVEL": "override", "CFG_1NUM": "y", "EMPTY": "",
		"MY_DB_SERVICE_HOST": "10.32.0.9", "MY_DB_SERVICE_PORT": "5432", "MY_DB_PORT": "tcp://10.32.0.9:5432",
		"MY_DB_PORT_5432_TCP": "tcp://10.32.0.9:5432", "MY_DB_PORT_5432_TCP_PROTO": "tcp",
		"MY_DB_PORT_5432_TCP_PORT": "5432", "MY_DB_PORT_5432_TCP_ADDR": "10.32.0.9",
		"KUBERNETES_SERVICE_HOST": "10.32.0.1", "KUBERNETES_SERVICE_PORT": "443", "KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT": "tcp://10.32.0.1:443", "KUBERNETES_PORT_443_TCP": "tcp://10.32.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp", "KUBERNETES_PORT_443_TCP_PORT": "443", "KUBERNETES_PORT_443_TCP_ADDR": "10.32.0.1",
	}
	if !reflect.DeepEqual(got, want) {
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s=%q", k, got[k])
			}
		}
	}
	if len(res.Env) != len(got) {
		t.Errorf("duplicate names in %v", res.Env)
	}
	// Declaration order: envFrom first, then env; CFG_LEVEL keeps its slot.
	if res.Env[1].Name != "CFG_LEVEL" || res.Env[1].Value != "override" {
		t.Errorf("second var = %+v", res.Env[1])
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "Keys [CFG_bad key] from the EnvFrom configMap app/cfg were skipped") {
		t.Errorf("warnings = %q", res.Warnings)
	}
}

func TestEnvironmentServiceLinks(t *testing.T) {
	pod := testPod()
	pod.Spec.EnableServiceLinks = new(false)
	pod.Spec.Containers = []corev1.Container{{Name: "c"}}
	res, err := Environment(Options{Pod: pod, Container: &pod.Spec.Containers[0], Lookup: newLookup()})
	if err != nil {
		t.Fatal(err)
	}
	env := envOf(res)
	if env["KUBERNETES_SERVICE_HOST"] != "10.32.0.1" || env["MY_DB_SERVICE_HOST"] != "" {
		t.Errorf("env = %v", env)
	}

	// A namespace's own "kubernetes" service wins over default's.
	l := newLookup()
	l.services["app"] = append(l.services["app"], svc("app", "kubernetes", "10.32.0.77", corev1.ServicePort{Port: 443}))
	pod.Spec.EnableServiceLinks = nil
	res, _ = Environment(Options{Pod: pod, Container: &pod.Spec.Containers[0], Lookup: l})
	if got := envOf(res)["KUBERNETES_SERVICE_HOST"]; got != "10.32.0.77" {
		t.Errorf("KUBERNETES_SERVICE_HOST = %s", got)
	}
}

func TestEnvironmentErrors(t *testing.T) {
	cmKey := func(name, key string, optional bool) corev1.EnvVar {
		return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}}
	}
	secKey := func(name, key string) corev1.EnvVar {
		return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}}}
	}
	tests := []struct {
		name    string
		env     []corev1.EnvVar
		envFrom []corev1.EnvFromSource
		lookup  Lookup
		want    string // "" = no error
	}{
		{"missing configmap", []corev1.EnvVar{cmKey("x", "k", false)}, nil, newLookup(), `configmap "x" not found`},
		{"missing optional configmap", []corev1.EnvVar{cmKey("x", "k", true)}, nil, newLookup(), ""},
		{"missing key", []corev1.EnvVar{cmKey("cfg", "nokey", false)}, nil, newLookup(), "couldn't find key nokey in ConfigMap app/cfg"},
		{"missing optional key", []corev1.EnvVar{cmKey("cfg", "nokey", true)}, nil, newLookup(), ""},
		{"missing secret", []corev1.EnvVar{secKey("nope", "k")}, nil, newLookup(), `secret "nope" not found`},
		{"missing secret key", []corev1.EnvVar{secKey("pw", "k")}, nil, newLookup(), "couldn't find key k in Secret app/pw"},
		{"missing envFrom secret", nil, []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}}}, newLookup(), `secret "s" not found`},
		{"lookup failure", []corev1.EnvVar{cmKey("cfg", "k", true)}, nil, &fakeLookup{err: errors.New("apiserver down")}, "get configmap app/cfg: apiserver down"},
		{"no lookup", []corev1.EnvVar{cmKey("cfg", "k", false)}, nil, nil, `configmap "cfg": no object lookup configured`},
		{"bad field", []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}}, nil, newLookup(), `unsupported fieldRef path "spec.bogus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.Containers = []corev1.Container{{Name: "c", Env: tt.env, EnvFrom: tt.envFrom}}
			_, err := Environment(Options{Pod: pod, Container: &pod.Spec.Containers[0], Lookup: tt.lookup})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want || !IsConfigError(err) {
				t.Fatalf("err = %v, want config error %q", err, tt.want)
			}
		})
	}
}

func TestPodFieldValueMaps(t *testing.T) {
	pod := testPod()
	pod.Labels["tier"] = `fr"ont`
	v, err := PodFieldValue(pod, &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}, nil, nil)
	if err != nil || v != "app=\"web\"\ntier=\"fr\\\"ont\"" {
		t.Errorf("labels = %q %v", v, err)
	}
	if _, err := PodFieldValue(pod, &corev1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}, nil, nil); err == nil {
		t.Error("v2 accepted")
	}
	if v, _ := PodFieldValue(pod, &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['none']"}, nil, nil); v != "" {
		t.Errorf("missing label = %q", v)
	}
}

func TestResourceFieldValue(t *testing.T) {
	pod := testPod()
	pod.Spec.InitContainers = []corev1.Container{{Name: "init", Resources: corev1.ResourceRequirements{
		Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("100M")}}}}
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")}
	tests := []struct {
		ref  corev1.ResourceFieldSelector
		want string
	}{
		{corev1.ResourceFieldSelector{ContainerName: "init", Resource: "limits.memory"}, "100000000"},
		{corev1.ResourceFieldSelector{ContainerName: "init", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}, "96"},
		{corev1.ResourceFieldSelector{ContainerName: "init", Resource: "limits.cpu"}, "2"},
		{corev1.ResourceFieldSelector{ContainerName: "init", Resource: "limits.cpu", Divisor: resource.MustParse("1m")}, "2000"},
		{corev1.ResourceFieldSelector{ContainerName: "init", Resource: "requests.cpu"}, "0"},
	}
	for _, tt := range tests {
		got, err := ResourceFieldValue(pod, "", &tt.ref, alloc)
		if err != nil || got != tt.want {
			t.Errorf("%+v = %q %v, want %q", tt.ref, got, err, tt.want)
		}
	}
	if _, err := ResourceFieldValue(pod, "nope", &corev1.ResourceFieldSelector{Resource: "limits.cpu"}, nil); err == nil {
		t.Error("unknown container accepted")
	}
	if _, err := ResourceFieldValue(pod, "init", &corev1.ResourceFieldSelector{Resource: "limits.hugepages-2Mi"}, nil); err == nil {
		t.Error("hugepages accepted")
	}
}
