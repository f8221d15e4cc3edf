package job_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/job"
)

// TestJobRunsToCompletion runs the controller against a real API server: a
// Job with completions 3 and parallelism 2 gets two pods; the test plays
// kubelet and marks pods Succeeded; the Job ends Complete with 3 succeeded
// and every pod released from the tracking finalizer.
func TestJobRunsToCompletion(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)

	factory := informers.NewSharedInformerFactory(kube, 0)
	c, err := job.New(kube, factory.Batch().V1().Jobs(), factory.Core().V1().Pods(), record.NewFakeRecorder(100))
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	go c.Run(ctx, 2)

	clustertest.Create(t, ctx, kube.BatchV1().Jobs("default"), &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi"},
		Spec: batchv1.JobSpec{
			Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](2),
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "pi", Image: "perl", Command: []string{"perl", "-e", "print 3.14"}}},
			}},
		},
	})

	succeeded := map[string]bool{}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=pi"})
		if err != nil {
			return false, err
		}
		running := 0
		for i := range pods.Items {
			p := &pods.Items[i]
			if p.Status.Phase == corev1.PodSucceeded {
				continue
			}
			running++
			if running > 2 {
				t.Errorf("more than parallelism=2 pods running: %d", running)
			}
			// Play kubelet: the pod ran and exited 0.
			p.Status.Phase = corev1.PodSucceeded
			if _, err := kube.CoreV1().Pods("default").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
				return false, err
			}
			succeeded[p.Name] = true
		}
		j, err := kube.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("waiting for the Job to complete: %v", err)
	}

	j, err := kube.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{})
	clustertest.Must(t, err)
	if j.Status.Succeeded != 3 || j.Status.Active != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil {
		t.Errorf("status = %+v, want 3 succeeded, none active, start and completion times", j.Status)
	}
	if len(succeeded) != 3 {
		t.Errorf("pods run: %d, want exactly 3", len(succeeded))
	}
	pods, err := kube.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=pi"})
	clustertest.Must(t, err)
	for _, p := range pods.Items {
		if len(p.Finalizers) != 0 {
			t.Errorf("pod %s keeps finalizers %v", p.Name, p.Finalizers)
		}
	}
}
