package membership

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestServicesToSync(t *testing.T) {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for name, sel := range map[string]map[string]string{"web": {"app": "web"}, "canary": {"app": "web", "track": "canary"},
		"api": {"app": "api"}, "manual": nil} {
		if err := idx.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"}, Spec: corev1.ServiceSpec{Selector: sel}}); err != nil {
			t.Fatal(err)
		}
	}
	services := corelisters.NewServiceLister(idx)
	base := func() *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "demo", ResourceVersion: "1", Labels: map[string]string{"app": "web"}},
			Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.0.0.1"}}}}
	}
	tests := []struct {
		name   string
		change func(p *corev1.Pod)
		want   []string
	}{
		{name: "a resync changes nothing", change: func(p *corev1.Pod) {}},
		{name: "an annotation is not our business", change: func(p *corev1.Pod) { p.Annotations = map[string]string{"a": "b"}; p.ResourceVersion = "2" }},
		{name: "readiness concerns the pod's services", want: []string{"demo/web"}, change: func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			p.ResourceVersion = "2"
		}},
		{name: "a new label concerns the service joined", want: []string{"demo/canary"}, change: func(p *corev1.Pod) {
			p.Labels = map[string]string{"app": "web", "track": "canary"}
			p.ResourceVersion = "2"
		}},
		{name: "moving and changing concerns old and new services", want: []string{"demo/api", "demo/web"}, change: func(p *corev1.Pod) {
			p.Labels = map[string]string{"app": "api"}
			p.Status.PodIPs = []corev1.PodIP{{IP: "10.0.0.2"}}
			p.ResourceVersion = "2"
		}},
		{name: "deletion starting concerns the pod's services", want: []string{"demo/web"}, change: func(p *corev1.Pod) {
			now := metav1.NewTime(time.Now())
			p.DeletionTimestamp = &now
			p.ResourceVersion = "2"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cur := base(), base()
			tt.change(cur)
			got, err := ServicesToSync(services, old, cur)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(sets.New(tt.want...)) {
				t.Errorf("services = %v, want %v", sets.List(got), tt.want)
			}
		})
	}
}

func TestFindPort(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		Containers:     []corev1.Container{{Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}, {Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}}}},
		InitContainers: []corev1.Container{{RestartPolicy: &always, Ports: []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9090}}}},
	}}
	tests := []struct {
		port    corev1.ServicePort
		want    int32
		wantErr bool
	}{
		{port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromInt32(8081)}, want: 8081},
		{port: corev1.ServicePort{Port: 80}, want: 80},
		{port: corev1.ServicePort{Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}, want: 8080},
		{port: corev1.ServicePort{Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolUDP}, want: 53},
		{port: corev1.ServicePort{Port: 53, TargetPort: intstr.FromString("dns"), Protocol: corev1.ProtocolTCP}, wantErr: true},
		{port: corev1.ServicePort{Port: 90, TargetPort: intstr.FromString("metrics")}, want: 9090},
		{port: corev1.ServicePort{Port: 90, TargetPort: intstr.FromString("nope")}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := FindPort(pod, &tt.port)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("FindPort(%v) = %d, %v; want %d (error %v)", tt.port.TargetPort.String(), got, err, tt.want, tt.wantErr)
		}
	}
}

func TestTriggerTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "demo", CreationTimestamp: metav1.NewTime(t0)}}
	pod := func(name string, at time.Time) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, LastTransitionTime: metav1.NewTime(at)}}}}
	}
	tt := NewTriggerTimes()
	if got := tt.Compute(svc, []*corev1.Pod{pod("a", t0.Add(time.Minute))}); !got.Equal(t0) {
		t.Errorf("first sync: %v, want the service's creation %v", got, t0)
	}
	if got := tt.Compute(svc, []*corev1.Pod{pod("a", t0.Add(time.Minute))}); !got.IsZero() {
		t.Errorf("nothing new: %v, want zero", got)
	}
	got := tt.Compute(svc, []*corev1.Pod{pod("a", t0.Add(3*time.Minute)), pod("b", t0.Add(2*time.Minute))})
	if !got.Equal(t0.Add(2 * time.Minute)) {
		t.Errorf("two changes: %v, want the earlier one", got)
	}
}
