package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// NewImageCommand builds `kubelab image` and its verbs: put image archives
// onto nodes, list what a node has, and build the kit's own images.
func NewImageCommand(s Streams) *cobra.Command {
	o := &imageOptions{}
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Load image archives onto nodes, list their images, build the kit's images",
		Long: `image moves container images onto nodes without a registry.

A container image is a stack of filesystem layers (tar files) plus a small
JSON config (entrypoint, environment, working directory). An image archive
is all of that in one tar file, in one of two layouts:

  docker save   manifest.json names each image ("RepoTags") and its layers;
                written by 'docker save IMAGE -o FILE.tar' and
                'crane pull --format=tarball IMAGE FILE.tar'
  OCI layout    index.json + oci-layout + blobs/sha256/...; written by
                'skopeo copy docker://IMAGE oci-archive:FILE.tar',
                'crane pull --format=oci' (then tar the directory) and
                'podman save --format oci-archive'

Either may be gzipped. Each node's kubelet keeps its own image store (the
unpacked layers under its root directory), so an image must be on the node
a pod is scheduled to: load it everywhere with --all-nodes, or onto the node
you pin the pod to.

'load' and 'ls' talk to each kubelet's API (HTTPS, port 10250 by default),
found in the Node object (status.addresses InternalIP,
status.daemonEndpoints.kubeletEndpoint.port), with the client certificate of
your kubeconfig. The endpoints are kubelab's own: a real kubelet has none,
and there you would run 'ctr -n k8s.io images import FILE.tar' on the node.`,
		Example: `  docker save nginx:1.27 -o nginx.tar           # or: crane pull --format=tarball nginx:1.27 nginx.tar
  kubelab image load --all-nodes nginx.tar
  kubelab image ls
  kubectl run web --image=nginx:1.27 --image-pull-policy=IfNotPresent`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newImageLoadCommand(s, o), newImageListCommand(s, o), newImageBuildCommand(s))
	return cmd
}

// imageOptions are the flags of load and ls.
type imageOptions struct {
	kubeconfig, context string
	node                string
	allNodes            bool
	// insecure skips verifying the kubelet's serving certificate (kubectl's
	// --insecure-skip-tls-verify-backend); the client certificate is still sent.
	insecure bool
}

func addNodeFlags(cmd *cobra.Command, o *imageOptions) {
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "cluster to talk to (default $KUBECONFIG or ~/.kube/config)")
	f.StringVar(&o.context, "context", "", "kubeconfig context to use (default: its current context)")
	f.StringVar(&o.node, "node", "", "the node to talk to (may be omitted when the cluster has one node)")
	f.BoolVar(&o.insecure, "insecure-skip-tls-verify-backend", false,
		"do not verify the kubelet's serving certificate (still authenticates with the client certificate)")
}

func newImageLoadCommand(s Streams, o *imageOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "load [--node NAME | --all-nodes] FILE.tar",
		Short: "Upload an image archive (docker save or OCI) into nodes' image stores",
		Long: `load uploads FILE.tar to a node's kubelet, which unpacks every image in it
into its image store; the images then appear in 'kubelab image ls' and in
the Node's status.images, and pods on that node can use them offline.

Pods use a loaded image only if the kubelet does not insist on pulling it:
give them imagePullPolicy IfNotPresent or Never. Kubernetes defaults the
policy to Always when the tag is :latest or missing, and Always contacts the
registry even when the image is present.

Without --node the cluster must have exactly one node (kubelab up); with
several, choose one with --node or load everywhere with --all-nodes.`,
		Example: `  docker save busybox:1.36 -o busybox.tar
  kubelab image load busybox.tar                       # the only node
  kubelab image load --node node-1 busybox.tar
  kubelab image load --all-nodes busybox.tar
  kubectl run bb --image=busybox:1.36 --image-pull-policy=Never -- sleep 3600`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.allNodes && o.node != "" {
				return fmt.Errorf("--node and --all-nodes exclude each other")
			}
			return runImageLoad(cmd.Context(), s, o, args[0])
		},
	}
	addNodeFlags(cmd, o)
	cmd.Flags().BoolVar(&o.allNodes, "all-nodes", false, "load onto every node (one after the other)")
	return cmd
}

func newImageListCommand(s Streams, o *imageOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "ls [--node NAME]",
		Aliases: []string{"list"},
		Short:   "List the images in nodes' image stores",
		Long: `ls asks each node's kubelet which images its store holds: every name
(tag) an image is known by, its ID (the digest of its config, the same on
every node for the same image) and its unpacked size. Without --node it asks
every node. Compare with what the Node reports:
  kubectl get node NAME -o jsonpath='{.status.images}'`,
		Example: `  kubelab image ls
  kubelab image ls --node node-0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageList(cmd.Context(), s, o)
		},
	}
	addNodeFlags(cmd, o)
	return cmd
}

// printImages writes one row per image name: NODE IMAGE ID SIZE.
func printImages(s Streams, rows []nodeImages) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tIMAGE\tID\tSIZE")
	for _, r := range rows {
		for _, img := range r.images {
			for _, n := range displayNames(img.Names) {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.node, n, shortID(img.ID), humanBytes(img.Size))
			}
		}
	}
	return tw.Flush()
}

// displayNames are an image's tags; an image known only by digest shows
// that digest.
func displayNames(names []string) []string {
	var tags []string
	for _, n := range names {
		if !strings.Contains(n, "@") {
			tags = append(tags, n)
		}
	}
	if len(tags) == 0 && len(names) > 0 {
		return names[:1]
	}
	if len(tags) == 0 {
		return []string{"<none>"}
	}
	return tags
}

// shortID is the first 12 hex digits, as docker and crictl show it.
func shortID(id string) string {
	hex := strings.TrimPrefix(id, "sha256:")
	if len(hex) > 12 {
		return hex[:12]
	}
	return hex
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// archiveSize stats the archive up front: a wrong path fails before any
// network traffic, and the size drives the progress display.
func archiveSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("image archive: %w", err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("image archive %s is a directory: tar it first (an OCI layout directory: tar -C %s -cf %s.tar .)",
			path, path, filepath.Base(filepath.Clean(path)))
	}
	return st.Size(), nil
}
