package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kubelab/kubelab/components/kubelet/images/builtin"
)

// archiveName is the file `kubelab image build` writes.
const archiveName = "kubelab-images.tar"

type imageBuildOptions struct {
	dir        string
	busybox    string
	testserver string
}

func newImageBuildCommand(s Streams) *cobra.Command {
	o := &imageBuildOptions{}
	cmd := &cobra.Command{
		Use:   "build [-o DIR]",
		Short: "Build the kit's own images into " + archiveName,
		Long: `build makes the images the labs and tests use, from files on this machine,
with no registry and no Docker:

  ` + builtin.BusyboxRef + `      a static busybox (apt-get install busybox-static)
  ` + builtin.TestServerRef + `   busybox + /testserver, kubelab's agnhost:
                                    serve-hostname (default, port 9376),
                                    netexec, pause

and writes them, in 'docker save' format, to DIR/` + archiveName + `.
The same inputs give the same bytes, so the image IDs match on every machine.

Kubelets started with --preload-images (the default) build these images
themselves from their own busybox and testserver binary. The archive is for
nodes that lack them, such as Vagrant VMs: load it from here with
'kubelab image load --all-nodes', or copy it onto the VM.

The testserver binary is taken from --testserver, $KUBELAB_TESTSERVER,
'testserver' next to this binary, or PATH; in a kubelab source tree it is
bin/testserver, built with 'go build' if it is missing.`,
		Example: `  kubelab image build -o /tmp
  kubelab image load --all-nodes /tmp/` + archiveName + `
  docker load -i /tmp/` + archiveName + `        # the format is docker's own`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageBuild(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.dir, "output", "o", ".", "directory to write "+archiveName+" into")
	f.StringVar(&o.busybox, "busybox", "", "static busybox to use (default $KUBELAB_BUSYBOX, /bin/busybox, /usr/bin/busybox, PATH)")
	f.StringVar(&o.testserver, "testserver", "", "static testserver binary to use (default: see above)")
	return cmd
}

func runImageBuild(ctx context.Context, s Streams, o *imageBuildOptions) error {
	ts, err := testServerBinary(ctx, s, o.testserver)
	if err != nil {
		return err
	}
	imgs, err := builtin.All(builtin.Options{BusyboxPath: o.busybox, TestServerBinary: ts})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	out := filepath.Join(o.dir, archiveName)
	if err := builtin.WriteArchive(out, imgs); err != nil {
		return err
	}
	refs := make([]string, 0, len(imgs))
	for ref := range imgs {
		refs = append(refs, ref)
	}
	slices.Sort(refs)
	for _, ref := range refs {
		id, err := imgs[ref].ConfigName()
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		fmt.Fprintf(s.Out, "built %s (ID %s)\n", ref, shortID(id.String()))
	}
	size, _ := archiveSize(out)
	fmt.Fprintf(s.Out, "wrote %s (%s)\nload it with: kubelab image load --all-nodes %s\n", out, humanBytes(size), out)
	return nil
}

// testServerBinary finds the testserver: the flag, then where the kit
// looks, then (in a source tree) bin/testserver, built if need be.
func testServerBinary(ctx context.Context, s Streams, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	p, err := builtin.FindTestServerBinary()
	if err == nil || !errors.Is(err, builtin.ErrTestServerNotFound) {
		return p, err
	}
	wd, werr := os.Getwd()
	if werr != nil {
		return "", err
	}
	repo, ok := sourceTree(wd)
	if !ok {
		return "", err
	}
	bin := filepath.Join(repo, "bin", "testserver")
	if _, serr := os.Stat(bin); serr == nil {
		return bin, nil
	}
	fmt.Fprintf(s.Err, "no testserver binary yet: building %s from ./cmd/testserver…\n", bin)
	if err := builtin.BuildTestServerBinary(ctx, repo, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// sourceTree finds the kubelab module root at or above dir: a go.mod for
// github.com/kubelab/kubelab with cmd/testserver in it.
func sourceTree(dir string) (string, bool) {
	for {
		if isKubelabModule(filepath.Join(dir, "go.mod")) {
			if st, err := os.Stat(filepath.Join(dir, "cmd", "testserver")); err == nil && st.IsDir() {
				return dir, true
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isKubelabModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "module ") {
			return strings.TrimSpace(strings.TrimPrefix(line, "module ")) == "github.com/kubelab/kubelab"
		}
	}
	return false
}
