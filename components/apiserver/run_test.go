package apiserver_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubelab/kubelab/components/apiserver"
)

// TestRunLikeTheBinary starts the server the way cmd/kube-apiserver does in
// the labs: --etcd-servers, --secure-port, a self-signed certificate in
// --cert-dir and a --token-auth-file, then talks to it with a bearer token.
func TestRunLikeTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte("s3cret,alice,1001,\"devs,ops\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- apiserver.Run(ctx, apiserver.Options{EtcdServers: []string{testCP.EtcdURL}, BindAddress: "127.0.0.1",
			SecurePort: port, CertDir: filepath.Join(dir, "certs"), TokenAuthFile: tokens})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run returned %v", err)
		}
	}()

	// The self-signed certificate file is its own trust bundle.
	caFile := filepath.Join(dir, "certs", "apiserver.crt")
	cfg := &rest.Config{Host: "https://127.0.0.1:" + strconv.Itoa(port), BearerToken: "s3cret",
		TLSClientConfig: rest.TLSClientConfig{CAFile: caFile}}
	var cs *kubernetes.Clientset
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(caFile); err == nil {
			cs = kubernetes.NewForConfigOrDie(cfg)
			if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("kube-apiserver with a token file did not answer in 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil || review.Status.UserInfo.Username != "alice" || len(review.Status.UserInfo.Groups) < 2 {
		t.Errorf("whoami: %+v %v, want alice in devs and ops", review, err)
	}
	bad := rest.CopyConfig(cfg)
	bad.BearerToken = "wrong"
	_, err = kubernetes.NewForConfigOrDie(bad).CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if !apierrors.IsUnauthorized(err) {
		t.Fatalf("wrong token: want 401 Unauthorized, got %v", err)
	}
}
