// Package kubelet is the node agent: the box "per node: kubelet" in the
// architecture picture. It registers its Node and heartbeats a Lease, then
// watches the pods the scheduler bound to it and makes them real:
//
//	API server ──watch pods (spec.nodeName=me)──▶ pod workers (one goroutine per pod)
//	                                                 │ sync: sandbox → network → volumes →
//	                                                 │       init containers → containers
//	   pods/status ◀── podstatus.Compute ◀───────────┤
//	                                                 ▼
//	 images (pull, unpack layers)   runtime (libcontainer: namespaces, cgroups,
//	 network (bridge, veth, IPAM,    overlay rootfs, a monitor per container)
//	          routes or VXLAN)      probes (exec/http/tcp) ──▶ restarts, Ready
//
// and it serves the kubelet API (logs, exec) that the API server proxies
// `kubectl logs` and `kubectl exec` to. Each box is a subpackage; this
// package is the sync loop that drives them.
package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/kubelab/kubelab/components/kubelet/images"
	"github.com/kubelab/kubelab/components/kubelet/images/builtin"
	"github.com/kubelab/kubelab/components/kubelet/runtime"
)

// Kubelet is one running node agent.
type Kubelet struct {
	o      Options
	kube   kubernetes.Interface
	nodeIP net.IP

	rt      *runtime.Runtime
	images  *images.Store
	net     atomic.Pointer[podNetwork]
	node    *nodeAgent
	workers *podWorkers
	probes  *probeSet
	vols    *volumeSet
	env     *envSource

	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	recorder   record.EventRecorder

	ready     chan struct{}
	readyOnce sync.Once
	// startSlots bounds concurrent container starts.
	startSlots chan struct{}
}

// Run starts a kubelet and blocks until ctx ends. Running pods are left
// running when it returns: a new kubelet over the same RootDir adopts them.
func Run(ctx context.Context, o Options) error {
	k, err := New(o)
	if err != nil {
		return err
	}
	return k.Run(ctx)
}

// New checks the options and connects to the API server; Run starts work.
func New(o Options) (*Kubelet, error) {
	if err := o.Defaults(); err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubelet credentials %q: %w", o.Kubeconfig, err)
	}
	cfg.UserAgent = "kubelet/" + o.NodeName
	// Pod churn (status writes, events, ConfigMap reads) must not starve
	// the heartbeat: like the kubelet, heartbeats get their own client
	// without client-side rate limiting.
	hb := rest.CopyConfig(cfg)
	hb.QPS = -1
	cfg.QPS, cfg.Burst = float32(o.KubeAPIQPS), o.KubeAPIBurst
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubelet client: %w", err)
	}
	heartbeat, err := kubernetes.NewForConfig(hb)
	if err != nil {
		return nil, fmt.Errorf("kubelet heartbeat client: %w", err)
	}
	k, err := NewWithClient(o, kube)
	if err != nil {
		return nil, err
	}
	k.node.kube = heartbeat
	return k, nil
}

// NewWithClient is New with a ready client (tests, in-process clusters).
func NewWithClient(o Options, kube kubernetes.Interface) (*Kubelet, error) {
	if err := o.Defaults(); err != nil {
		return nil, err
	}
	ip, err := pickNodeIP(&o)
	if err != nil {
		return nil, err
	}
	k := &Kubelet{o: o, kube: kube, nodeIP: ip, ready: make(chan struct{}),
		startSlots: make(chan struct{}, max(2, 2*goruntime.NumCPU()))}
	k.rt, err = runtime.New(runtime.Options{Root: filepath.Join(o.RootDir, "runtime"), CgroupParent: o.CgroupRoot})
	if err != nil {
		return nil, fmt.Errorf("container runtime: %w", err)
	}
	// The kit's own images are pinned, like the real kubelet's pause image:
	// no registry can give them back, and on a nearly full disk the next
	// pod that names them would otherwise never start.
	k.images, err = images.NewStore(filepath.Join(o.RootDir, "images"), images.WithInsecureRegistries(o.InsecureRegistries...),
		images.WithPinned(builtin.BusyboxRef, builtin.TestServerRef))
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	k.node = newNodeAgent(&k.o, kube, ip)
	k.workers = newPodWorkers(k)
	k.probes = newProbeSet(k)
	k.env = newEnvSource(k) // before the volumes, which read through it
	k.vols = newVolumeSet(k)
	return k, nil
}

// Ready is closed once the node is registered and its network is up.
func (k *Kubelet) Ready() <-chan struct{} { return k.ready }

// NodeName is the Node this kubelet registered.
func (k *Kubelet) NodeName() string { return k.o.NodeName }

// Run registers the node and runs the sync loops until ctx ends.
func (k *Kubelet) Run(ctx context.Context) error {
	defer k.rt.Close()
	k.recorder = newRecorder(ctx, k.kube, k.o.NodeName)
	if k.o.PreloadImages {
		if err := k.preloadImages(ctx); err != nil {
			slog.Warn("preloading the kit's images failed; pods using them will try to pull", "err", err)
		}
	}
	k.node.setImages(k.nodeImages())
	if _, err := k.node.register(ctx); err != nil {
		return err
	}

	factory := informers.NewSharedInformerFactory(k.kube, 0)
	podFactory := informers.NewSharedInformerFactoryWithOptions(k.kube, 0,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.o.NodeName).String()
		}))
	podInf := podFactory.Core().V1().Pods()
	nodeInf := factory.Core().V1().Nodes()
	k.podLister, k.nodeLister = podInf.Lister(), nodeInf.Lister()
	k.env.start(factory)
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.workers.update(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { k.workers.update(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				k.workers.forget(pod.UID)
			}
		},
	}); err != nil {
		return fmt.Errorf("watch pods: %w", err)
	}
	if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { k.nodesChanged() },
		UpdateFunc: func(any, any) { k.nodesChanged() },
		DeleteFunc: func(any) { k.nodesChanged() },
	}); err != nil {
		return fmt.Errorf("watch nodes: %w", err)
	}
	factory.Start(ctx.Done())
	podFactory.Start(ctx.Done())
	defer factory.Shutdown()
	defer podFactory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), nodeInf.Informer().HasSynced, podInf.Informer().HasSynced) {
		return fmt.Errorf("kubelet %s: waiting for pod and node caches: %w", k.o.NodeName, ctx.Err())
	}
	k.nodesChanged()
	k.adoptOrphans(ctx)

	var wg sync.WaitGroup
	wg.Go(func() { k.node.run(ctx, func() (*corev1.Node, error) { return k.nodeLister.Get(k.o.NodeName) }) })
	wg.Go(func() { k.runtimeEvents(ctx) })
	wg.Go(func() { k.housekeeping(ctx) })
	var serveErr error
	if k.o.Port != 0 {
		srv, err := k.newServer()
		if err != nil {
			return err
		}
		wg.Go(func() {
			if err := srv.ListenAndServe(ctx); err != nil && !errors.Is(err, context.Canceled) {
				serveErr = err
				slog.Error("kubelet API stopped", "err", err)
			}
		})
	}
	slog.Info("kubelet running", "node", k.o.NodeName, "nodeIP", k.nodeIP, "root", k.o.RootDir, "network", k.o.NetworkMode)
	<-ctx.Done()
	wg.Wait()
	k.workers.wait()
	return serveErr
}

// runtimeEvents wakes a pod's worker when one of its containers exits, so a
// crash shows in status (and restarts) within milliseconds.
func (k *Kubelet) runtimeEvents(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-k.rt.Events():
			if !ok {
				return
			}
			k.workers.poke(types.UID(ev.PodUID))
		}
	}
}

// adoptOrphans hands sandboxes the API no longer knows (pods deleted while
// this kubelet was down) to workers that tear them down.
func (k *Kubelet) adoptOrphans(ctx context.Context) {
	sbs, err := k.rt.ListSandboxes()
	if err != nil {
		slog.Warn("listing sandboxes on disk failed", "err", err)
		return
	}
	pods, _ := k.podLister.List(labels.Everything())
	known := map[types.UID]bool{}
	for _, p := range pods {
		known[p.UID] = true
	}
	for _, sb := range sbs {
		if !known[types.UID(sb.PodUID)] {
			slog.Info("removing a pod the API server no longer has", "pod", sb.Namespace+"/"+sb.Name, "uid", sb.PodUID)
			k.workers.orphan(ctx, types.UID(sb.PodUID))
		}
	}
}
