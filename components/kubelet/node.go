package kubelet

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/kubelab/kubelab/components/nodestatus"
	"github.com/kubelab/kubelab/components/version"
)

// nodeAgent is the kubelet's half of the node heartbeat: it registers the
// Node, renews its Lease every quarter of the lease duration (what the node
// lifecycle controller watches), and posts node status when it changes.
type nodeAgent struct {
	o    *Options
	kube kubernetes.Interface
	ip   net.IP

	// health and images are filled in by the rest of the kubelet.
	mu       sync.Mutex
	health   nodestatus.Health
	images   []corev1.ContainerImage
	uid      types.UID
	lease    *coordinationv1.Lease
	posted   corev1.NodeStatus
	postedAt time.Time
	kick     chan struct{}
}

func newNodeAgent(o *Options, kube kubernetes.Interface, ip net.IP) *nodeAgent {
	return &nodeAgent{o: o, kube: kube, ip: ip, kick: make(chan struct{}, 1),
		health: nodestatus.Health{NotReady: "kubelet is starting"}}
}

// setHealth records the node's health and posts status soon if it changed.
func (a *nodeAgent) setHealth(h nodestatus.Health) {
	a.mu.Lock()
	changed := a.health != h
	a.health = h
	a.mu.Unlock()
	if changed {
		a.poke()
	}
}

func (a *nodeAgent) setImages(imgs []corev1.ContainerImage) {
	a.mu.Lock()
	a.images = imgs
	a.mu.Unlock()
}

func (a *nodeAgent) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// register creates the Node or adopts an existing one, retrying until the
// API server answers or ctx ends.
func (a *nodeAgent) register(ctx context.Context) (*corev1.Node, error) {
	delay := 100 * time.Millisecond
	for {
		n, err := a.registerOnce(ctx)
		if err == nil {
			slog.Info("node registered", "node", n.Name, "internalIP", a.ip)
			return n, nil
		}
		slog.Warn("registering node failed, retrying", "node", a.o.NodeName, "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("register node %s: %w (last error: %v)", a.o.NodeName, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 7*time.Second)
	}
}

func (a *nodeAgent) registerOnce(ctx context.Context) (*corev1.Node, error) {
	want := a.buildNode()
	nodes := a.kube.CoreV1().Nodes()
	n, err := nodes.Create(ctx, want, metav1.CreateOptions{})
	created := err == nil
	if apierrors.IsAlreadyExists(err) {
		var existing *corev1.Node
		if existing, err = nodes.Get(ctx, want.Name, metav1.GetOptions{}); err == nil {
			n, err = nodes.Update(ctx, nodestatus.Adopt(existing, want), metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.uid = n.UID
	a.lease = nil
	a.mu.Unlock()
	// A new node posts its status at once (NotReady until its network is
	// up). A restarting kubelet adopting its Node does not: it would flash
	// "NotReady: kubelet is starting" at the node lifecycle controller; the
	// heartbeat loop posts as soon as the kubelet knows its health.
	if created {
		if err := a.postStatus(ctx, n, true); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (a *nodeAgent) buildNode() *corev1.Node {
	labels := map[string]string{
		corev1.LabelHostname:   a.o.NodeName,
		corev1.LabelOSStable:   "linux",
		corev1.LabelArchStable: goruntime.GOARCH,
	}
	maps.Copy(labels, a.o.NodeLabels)
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:   a.o.NodeName,
			Labels: labels,
			Annotations: map[string]string{
				"volumes.kubernetes.io/controller-managed-attach-detach": "true",
			},
		},
		Spec: corev1.NodeSpec{Taints: append([]corev1.Taint(nil), a.o.RegisterWithTaints...)},
	}
	if a.o.PodCIDR != "" {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = a.o.PodCIDR, []string{a.o.PodCIDR}
	}
	return n
}

// status is the full node status this kubelet reports now.
func (a *nodeAgent) status(prev []corev1.NodeCondition, now metav1.Time) corev1.NodeStatus {
	a.mu.Lock()
	h, imgs := a.health, a.images
	a.mu.Unlock()
	capacity := machineCapacity(a.o)
	return corev1.NodeStatus{
		Capacity:    capacity,
		Allocatable: allocatable(capacity, a.o.SystemReserved, a.o.KubeReserved),
		Phase:       corev1.NodeRunning,
		Conditions:  nodestatus.Conditions(now, prev, h),
		Addresses: []corev1.NodeAddress{
			{Type: corev1.NodeInternalIP, Address: a.ip.String()},
			{Type: corev1.NodeHostName, Address: a.o.NodeName},
		},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(a.o.Port)}},
		NodeInfo:        nodeInfo(),
		Images:          imgs,
	}
}

// postStatus writes node status when it differs from what was posted last
// (heartbeat times aside), or when force, or when NodeStatusReportFrequency
// has passed.
func (a *nodeAgent) postStatus(ctx context.Context, n *corev1.Node, force bool) error {
	now := metav1.NewTime(time.Now()).Rfc3339Copy()
	st := a.status(n.Status.Conditions, now)
	a.mu.Lock()
	same := statusEqualIgnoringHeartbeat(a.posted, st)
	due := time.Since(a.postedAt) >= a.o.NodeStatusReportFrequency
	a.mu.Unlock()
	if same && !force && !due && conditionsMatch(n.Status.Conditions, st.Conditions) {
		return nil
	}
	patch, err := nodestatus.Patch(st.Conditions, map[string]any{
		"capacity": st.Capacity, "allocatable": st.Allocatable, "addresses": st.Addresses,
		"daemonEndpoints": st.DaemonEndpoints, "nodeInfo": st.NodeInfo, "images": st.Images, "phase": st.Phase,
	})
	if err != nil {
		return err
	}
	if _, err := a.kube.CoreV1().Nodes().Patch(ctx, a.o.NodeName, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status"); err != nil {
		return fmt.Errorf("post status of node %s: %w", a.o.NodeName, err)
	}
	a.mu.Lock()
	a.posted, a.postedAt = st, time.Now()
	a.mu.Unlock()
	return nil
}

// conditionsMatch: has anyone (the node lifecycle controller, after we were
// silent) changed our conditions' statuses on the server?
func conditionsMatch(server, ours []corev1.NodeCondition) bool {
	for _, o := range ours {
		for _, s := range server {
			if s.Type == o.Type && s.Status != o.Status {
				return false
			}
		}
	}
	return true
}

func statusEqualIgnoringHeartbeat(a, b corev1.NodeStatus) bool {
	a, b = *a.DeepCopy(), *b.DeepCopy()
	for _, st := range []*corev1.NodeStatus{&a, &b} {
		for i := range st.Conditions {
			st.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
	}
	return equality.Semantic.DeepEqual(a, b)
}

// run heartbeats until ctx ends: the lease every quarter of its duration,
// status every NodeStatusUpdateFrequency or when poked.
func (a *nodeAgent) run(ctx context.Context, current func() (*corev1.Node, error)) {
	leaseEvery := time.Duration(a.o.NodeLeaseDurationSeconds) * time.Second / 4
	leaseT := time.NewTimer(0)
	statusT := time.NewTicker(a.o.NodeStatusUpdateFrequency)
	defer leaseT.Stop()
	defer statusT.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-leaseT.C:
			if err := a.renewLease(ctx); err != nil && ctx.Err() == nil {
				slog.Warn("renewing node lease failed", "node", a.o.NodeName, "err", err)
				leaseT.Reset(time.Second)
				continue
			}
			leaseT.Reset(leaseEvery)
			continue
		case <-statusT.C:
		case <-a.kick:
		}
		n, err := current()
		if apierrors.IsNotFound(err) {
			// Someone deleted our Node: register again, like the kubelet.
			if _, err := a.register(ctx); err != nil {
				return
			}
			continue
		}
		if err == nil {
			err = a.postStatus(ctx, n, false)
		}
		if err != nil && ctx.Err() == nil {
			slog.Warn("node status update failed", "node", a.o.NodeName, "err", err)
		}
	}
}

func (a *nodeAgent) renewLease(ctx context.Context) error {
	leases := a.kube.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	a.mu.Lock()
	defer a.mu.Unlock()
	name := a.o.NodeName
	if a.lease == nil {
		got, err := leases.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			created, err := leases.Create(ctx, nodestatus.Lease(name, string(a.uid), a.o.NodeLeaseDurationSeconds, now), metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create lease %s/%s: %w", corev1.NamespaceNodeLease, name, err)
			}
			a.lease = created
			return nil
		}
		if err != nil {
			return fmt.Errorf("get lease %s/%s: %w", corev1.NamespaceNodeLease, name, err)
		}
		a.lease = got
	}
	l := a.lease.DeepCopy()
	l.Spec.HolderIdentity = &name
	l.Spec.LeaseDurationSeconds = &a.o.NodeLeaseDurationSeconds
	l.Spec.RenewTime = &now
	nodestatus.SetLeaseOwner(l, name, string(a.uid))
	updated, err := leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		a.lease = nil
		return fmt.Errorf("renew lease %s/%s: %w", corev1.NamespaceNodeLease, name, err)
	}
	a.lease = updated
	return nil
}

// machineCapacity is what this machine offers pods: CPUs, memory (the
// smaller of RAM and our cgroup's limit), disk under the root dir, pods.
func machineCapacity(o *Options) corev1.ResourceList {
	mem := memTotal()
	var st unix.Statfs_t
	disk := int64(0)
	if unix.Statfs(o.RootDir, &st) == nil {
		disk = int64(st.Blocks) * st.Bsize
	}
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(mem, resource.BinarySI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(disk, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(int64(o.MaxPods), resource.DecimalSI),
	}
}

// allocatable is capacity minus what is reserved for the system and the
// kubelet (--system-reserved, --kube-reserved), never below zero.
func allocatable(capacity corev1.ResourceList, reserved ...map[string]string) corev1.ResourceList {
	out := capacity.DeepCopy()
	for _, r := range reserved {
		for k, v := range r {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				continue // validated in Options
			}
			name := corev1.ResourceName(k)
			if have, ok := out[name]; ok {
				have.Sub(q)
				if have.Sign() < 0 {
					have = *resource.NewQuantity(0, have.Format)
				}
				out[name] = have
			}
		}
	}
	return out
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func nodeInfo() corev1.NodeSystemInfo {
	var u unix.Utsname
	_ = unix.Uname(&u)
	machineID := strings.TrimSpace(readFile("/etc/machine-id"))
	return corev1.NodeSystemInfo{
		MachineID:               machineID,
		SystemUUID:              machineID,
		BootID:                  strings.TrimSpace(readFile("/proc/sys/kernel/random/boot_id")),
		KernelVersion:           unix.ByteSliceToString(u.Release[:]),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: "kubelab://" + version.Version,
		KubeletVersion:          version.KubernetesVersion,
		OperatingSystem:         "linux",
		Architecture:            goruntime.GOARCH,
	}
}

func osImage() string {
	for _, line := range strings.Split(readFile("/etc/os-release"), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// NodeIP is the InternalIP a kubelet with these options reports.
func NodeIP(o *Options) (net.IP, error) { return pickNodeIP(o) }

// pickNodeIP is --node-ip, else the first global unicast IPv4 address of
// this network namespace that is not on a pod bridge or veth.
func pickNodeIP(o *Options) (net.IP, error) {
	if o.NodeIP != "" {
		return net.ParseIP(o.NodeIP), nil
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Name == o.BridgeName || strings.HasPrefix(ifc.Name, "veth") || strings.HasPrefix(ifc.Name, "kubelab") {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP, nil
			}
		}
	}
	return net.IPv4(127, 0, 0, 1), nil
}
