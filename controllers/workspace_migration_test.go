package controllers_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	dockerswarm "github.com/docker/docker/api/types/swarm"
	"github.com/docker/docker/api/types/volume"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/compose"
)

// oldMongoDB is the old tool's mongodb.yml as it ran, its image swapped for
// the local busybox: the data the migration must keep is in mongodb_data.
const oldMongoDB = `version: '3.8'
services:
  mongodb:
    image: kargo.local/busybox:1
    command: sleep 3600
    volumes:
      - mongodb_data:/data/db
    networks:
      - kargo-back-network
    stop_grace_period: 1s
volumes:
  mongodb_data:
networks:
  kargo-back-network:
    name: ${DOCKER_BACK_NETWORK}
    external: true
`

// reporterCompose is a service of the workspace without a catalogue entry:
// its compose file is converted.
const reporterCompose = `version: '3.8'
services:
  reporter:
    image: kargo.local/busybox:1
    command: sleep 3600
    environment:
      - TOKEN=${REPORTER_TOKEN}
      - TARGET=${DOCKER_HOST_IP}
    networks:
      - kargo-back-network
    stop_grace_period: 1s
networks:
  kargo-back-network:
    name: ${DOCKER_BACK_NETWORK}
    external: true
`

// TestWorkspaceMigration moves a running old-tool installation to Kargo as
// the README tells: the old stack runs (docker stack deploy) and writes its
// data; the workspace (a .env with the bash lines of the old .env.default,
// STACKS of three stacks, one mistake) is converted, the mistake named,
// fixed and converted again; the old stack is removed (its volume and the
// shared network stay); the output is applied with kubectl and every Stack
// reaches Ready, under the old service and volume names, the old data in
// place.
func TestWorkspaceMigration(t *testing.T) {
	f := newFixture(t)
	dbs, services, apps := f.namespace+"-dbs", f.namespace+"-services", f.namespace+"-apps"
	backNetwork := f.namespace + "-back"
	oldDBS := "kargo-" + dbs // the old tool's Swarm stack name
	t.Cleanup(func() { f.cleanupMigration(backNetwork, dbs, services, apps) })

	// The old installation: the shared network the old tool created, the
	// dbs stack with data in its volume.
	_, err := docker.NetworkCreate(f.ctx, backNetwork, network.CreateOptions{Driver: "overlay", Attachable: true})
	f.g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	f.g.Expect(os.WriteFile(filepath.Join(dir, "old-mongodb.yml"), []byte(oldMongoDB), 0o600)).To(Succeed())
	out, err := f.dockerCLI([]string{"DOCKER_BACK_NETWORK=" + backNetwork},
		"stack", "deploy", "--resolve-image", "never", "-c", filepath.Join(dir, "old-mongodb.yml"), oldDBS)
	f.g.Expect(err).NotTo(HaveOccurred(), "docker stack deploy: %s", out)
	old := f.runningContainer(oldDBS + "_mongodb")
	out, err = f.dockerCLI(nil, "exec", old, "sh", "-c", "echo written-by-the-old-tool > /data/db/marker")
	f.g.Expect(err).NotTo(HaveOccurred(), "docker exec: %s", out)

	// The workspace.
	node, _ := f.nodeLabels()
	labels := "MONGODB_CONSTRAINTS=node.role==manager\nPOSTGIS_CONSTRAINTS=node.role==manager"
	if host := node.Description.Hostname; regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*$`).MatchString(host) {
		labels = strings.ToUpper(strings.ReplaceAll(host, "-", "_")) + `_LABELS="mongodb=true postgis=true"`
	}
	workspace := filepath.Join(dir, "workspace")
	f.g.Expect(os.MkdirAll(filepath.Join(workspace, "deploy"), 0o755)).To(Succeed())
	f.g.Expect(os.WriteFile(filepath.Join(workspace, "deploy", "reporter.yml"), []byte(reporterCompose), 0o600)).To(Succeed())
	variable := func(stack string) string { return strings.ToUpper(strings.ReplaceAll(stack, "-", "_")) + "_STACK" }
	dotenv := func(appsVariable string) string {
		return fmt.Sprintf(`# the old tool's .env
DOCKER_HOST=%s
DOCKER_HOST_IP=${DOCKER_HOST:6:$((${#DOCKER_HOST}-11))}
DOCKER_HOST_PORT=${DOCKER_HOST: -4}
DOCKER_HOST_LENGTH=`+"`expr length $DOCKER_HOST`"+`
DOMAIN=example.org
SUBDOMAIN=kargo.$DOMAIN
DOCKER_BACK_NETWORK=%s
POSTGIS_ROOT_PASSWORD=migrated-password
REPORTER_TOKEN=reporter-token
STACKS="%s %s %s"
%s="mongodb postgis"
%s="redis"
%s="reporter"
%s
`, dockerHost, backNetwork, dbs, services, apps, variable(dbs), variable(services), appsVariable, labels)
	}
	env := filepath.Join(workspace, ".env")
	// The mistake of the real .env.sample: APP_STACK for the stack "apps".
	mistaken := strings.TrimSuffix(variable(apps), "S_STACK") + "_STACK"
	f.g.Expect(os.WriteFile(env, []byte(dotenv(mistaken)), 0o600)).To(Succeed())
	_, err = compose.ConvertWorkspace(compose.WorkspaceOptions{Dir: workspace, Environment: "migrated"})
	var mistakes *compose.WorkspaceError
	f.g.Expect(errors.As(err, &mistakes)).To(BeTrue(), "want the mistake reported, got %v", err)
	f.g.Expect(mistakes.Problems).To(ConsistOf(fmt.Sprintf("STACKS lists %q, but %s is not set: list its services in %s=\"svc1 svc2\"", apps, variable(apps), variable(apps))))

	f.g.Expect(os.WriteFile(env, []byte(dotenv(variable(apps))), 0o600)).To(Succeed())
	res, err := compose.ConvertWorkspace(compose.WorkspaceOptions{Dir: workspace, Environment: "migrated"})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(res.Stacks).To(HaveLen(3))
	// No registry here: the catalogue's images become the local busybox.
	images := map[string]string{"mongodb": "mongo", "postgis": "postgis/postgis", "redis": "redis"}
	for _, stack := range res.Stacks {
		for _, picked := range stack.Spec.Services {
			stack.Spec.Images = append(stack.Spec.Images, kargov1.Image{Name: images[picked.Name], NewName: "kargo.local/busybox", NewTag: "1"})
		}
		stack.Spec.Patches = []kargov1.Patch{{Target: &kargov1.PatchTarget{Kind: "Service", LabelSelector: "app.kubernetes.io/part-of=kargo-catalog"}, Patch: busyboxPatch}}
	}
	manifests, err := res.YAML()
	f.g.Expect(err).NotTo(HaveOccurred())
	file := filepath.Join(dir, "migrated.yaml")
	f.g.Expect(os.WriteFile(file, manifests, 0o600)).To(Succeed())

	// The cut-over: the old stack goes (its volume and the network stay),
	// the converted objects are applied.
	out, err = f.dockerCLI(nil, "stack", "rm", oldDBS)
	f.g.Expect(err).NotTo(HaveOccurred(), "docker stack rm: %s", out)
	f.g.Eventually(func() int { return f.stackServices(oldDBS) }, timeout, poll).Should(BeZero())
	out, err = f.kubectl("apply", "-f", file)
	f.g.Expect(err).NotTo(HaveOccurred(), "kubectl apply: %s", out)

	for stack, count := range map[string]int{dbs: 2, services: 1, apps: 1} {
		f.waitStackReady(&kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Name: stack, Namespace: f.namespace}}, count)
	}
	// The old names: services kargo-<stack>_<service>, volumes
	// kargo-<stack>_<volume>, and the old data in the volume.
	for _, name := range []string{"kargo-" + dbs + "_mongodb", "kargo-" + dbs + "_postgis", "kargo-" + services + "_redis", "kargo-" + apps + "_reporter"} {
		_, _, err := docker.ServiceInspectWithRaw(f.ctx, name, dockerswarm.ServiceInspectOptions{})
		f.g.Expect(err).NotTo(HaveOccurred(), "service %s", name)
	}
	vols, err := docker.VolumeList(f.ctx, volume.ListOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	for _, name := range []string{oldDBS + "_mongodb_data", oldDBS + "_postgis_data", "kargo-" + services + "_redis_data"} {
		f.g.Expect(vols.Volumes).To(ContainElement(HaveField("Name", name)))
	}
	out, err = f.dockerCLI(nil, "exec", f.runningContainer(oldDBS+"_mongodb"), "cat", "/data/db/marker")
	f.g.Expect(err).NotTo(HaveOccurred(), "docker exec: %s", out)
	f.g.Expect(out).To(Equal("written-by-the-old-tool\n"), "the old data is not in the migrated service's volume")
	// The credential reached the service through the Secret, and the bash
	// line's value is the old tool's.
	reporter, _, err := docker.ServiceInspectWithRaw(f.ctx, "kargo-"+apps+"_reporter", dockerswarm.ServiceInspectOptions{})
	f.g.Expect(err).NotTo(HaveOccurred())
	f.g.Expect(reporter.Spec.TaskTemplate.ContainerSpec.Env).To(ContainElements("TOKEN=reporter-token", "TARGET="+dockerHost[6:len(dockerHost)-5]))
}

// dockerCLI runs the docker CLI against the test Swarm.
func (f *fixture) dockerCLI(env []string, args ...string) (string, error) {
	f.t.Helper()
	cmd := exec.CommandContext(f.ctx, "docker", args...)
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST="+dockerHost), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// runningContainer waits for the running container of a one-replica
// service and returns its ID.
func (f *fixture) runningContainer(service string) string {
	f.t.Helper()
	var id string
	f.g.Eventually(func(g Gomega) {
		list, err := docker.ContainerList(f.ctx, container.ListOptions{Filters: filters.NewArgs(
			filters.Arg("label", "com.docker.swarm.service.name="+service), filters.Arg("status", "running"))})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(list).To(HaveLen(1), "running containers of %s", service)
		id = list[0].ID
	}, timeout, poll).Should(Succeed())
	return id
}

// cleanupMigration deletes the migrated Stacks, last first (each depends
// on the one before it, and a Stack is deleted after those that depend on
// it), then what the old tool left: its stack if still there, the volumes,
// the shared network.
func (f *fixture) cleanupMigration(backNetwork string, stacks ...string) {
	g := NewWithT(f.t)
	for _, name := range slices.Backward(stacks) {
		stack := &kargov1.Stack{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.namespace}}
		if err := k8sDelete(f, stack); client.IgnoreNotFound(err) != nil {
			f.t.Errorf("cleanup: delete Stack %s: %v", name, err)
		}
	}
	_, _ = f.dockerCLI(nil, "stack", "rm", "kargo-"+stacks[0])
	g.Eventually(func(g Gomega) {
		vols, err := docker.VolumeList(f.ctx, volume.ListOptions{})
		g.Expect(err).NotTo(HaveOccurred())
		for _, v := range vols.Volumes {
			for _, stack := range stacks {
				if strings.HasPrefix(v.Name, "kargo-"+stack+"_") {
					g.Expect(docker.VolumeRemove(f.ctx, v.Name, false)).To(Succeed())
				}
			}
		}
		if err := docker.NetworkRemove(f.ctx, backNetwork); err != nil {
			g.Expect(err.Error()).To(ContainSubstring("not found"))
		}
	}, timeout, poll).Should(Succeed())
}
