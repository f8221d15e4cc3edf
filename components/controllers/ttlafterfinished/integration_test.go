package ttlafterfinished_test

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/kubelab/kubelab/components/cluster"
	"github.com/kubelab/kubelab/components/cluster/clustertest"
	"github.com/kubelab/kubelab/components/controllers/ttlafterfinished"
)

// TestFinishedJobIsDeleted: a Job with ttlSecondsAfterFinished 1 that
// completes is deleted about a second later by the real API server.
func TestFinishedJobIsDeleted(t *testing.T) {
	_, cfg := clustertest.Start(t, cluster.ControlPlaneOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kube := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(kube, 0)
	c, err := ttlafterfinished.New(kube, factory.Batch().V1().Jobs())
	clustertest.Must(t, err)
	factory.Start(ctx.Done())
	go c.Run(ctx, 1)

	j, err := kube.BatchV1().Jobs("default").Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi"},
		Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To[int32](1), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "pi", Image: "perl"}}}}},
	}, metav1.CreateOptions{})
	clustertest.Must(t, err)
	// Play the Job controller: the Job completed just now.
	finished := metav1.Now()
	j.Status.StartTime = &finished
	j.Status.CompletionTime = &finished
	j.Status.Succeeded = 1
	j.Status.Conditions = []batchv1.JobCondition{
		{Type: batchv1.JobSuccessCriteriaMet, Status: corev1.ConditionTrue, LastTransitionTime: finished, LastProbeTime: finished},
		{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: finished, LastProbeTime: finished},
	}
	_, err = kube.BatchV1().Jobs("default").UpdateStatus(ctx, j, metav1.UpdateOptions{})
	clustertest.Must(t, err)

	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := kube.BatchV1().Jobs("default").Get(ctx, "pi", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil {
		t.Fatalf("waiting for the finished Job to be deleted: %v", err)
	}
	// Times are stored to the second: the TTL counts from the stored one.
	if since := time.Since(finished.Time.Truncate(time.Second)); since < time.Second {
		t.Errorf("deleted after %s, before its 1s TTL", since)
	}
}
