# Kargo: a Kubernetes operator that deploys and keeps service stacks on Docker Swarm.

IMG ?= kargo.local/kargo:dev
K8S_VERSION ?= 1.37.1
CONTROLLER_TOOLS_VERSION ?= v0.23.0

LOCALBIN ?= $(CURDIR)/bin
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen-$(CONTROLLER_TOOLS_VERSION)
KUSTOMIZE ?= kubectl kustomize
GO_TEST_FLAGS ?= -count=1 -timeout 45m
# BENCH_FLAGS select parts of hack/bench, e.g. -parts converge -sizes 50.
BENCH_FLAGS ?=
export K8S_VERSION

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs, RBAC and the webhook configuration from the markers.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook

.PHONY: generate
generate: controller-gen ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## go fmt.
	go fmt ./...

.PHONY: vet
vet: ## go vet.
	go vet ./...

.PHONY: verify-generated
verify-generated: manifests generate ## Fail when generated files differ from the committed ones.
	@git diff --exit-code -- config api || { echo "generated files are stale: run 'make manifests generate' and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- config api)" || { git status --porcelain -- config api; echo "untracked generated files: commit them"; exit 1; }

.PHONY: envtest-assets
envtest-assets: ## Build (once) kube-apiserver and kubectl, copy etcd into bin/k8s/<version>.
	@hack/envtest-assets.sh >/dev/null

.PHONY: swarm-up
swarm-up: ## Start the local single-node Swarm (own dockerd on a private socket).
	@hack/swarm.sh up >/dev/null

.PHONY: swarm-down
swarm-down: ## Stop the local Swarm and remove its state.
	hack/swarm.sh down

.PHONY: swarm-multi-up
swarm-multi-up: ## Start the local 3-node Swarm (3 dockerd in network namespaces, beside the single-node one).
	@hack/swarm.sh up --nodes 3 >/dev/null

.PHONY: swarm-multi-down
swarm-multi-down: ## Stop the 3-node Swarm and remove its state, namespaces, links and rule.
	hack/swarm.sh down --nodes 3

.PHONY: test
test: manifests generate fmt vet envtest-assets swarm-up ## All tests: pure (golden) tests, envtest suites, swarm-backed tests, then the fault suite (test-faults).
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" DOCKER_HOST="$$(hack/swarm.sh host)" \
		go test $(GO_TEST_FLAGS) -v ./... 2>&1 | tee $(LOCALBIN)/test.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+\S+_test.go)' ; \
	grep -qE '^(FAIL|panic)' $(LOCALBIN)/test.log && { echo "tests failed: see bin/test.log"; exit 1; } || true
	$(MAKE) --no-print-directory test-faults

.PHONY: test-faults
test-faults: envtest-assets swarm-up ## Fault suite on dockerds of its own (dockerd, manager, apiserver killed; leader, events, endpoint): go test -tags faults ./test/faults/.
	@mkdir -p $(LOCALBIN)
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" DOCKER_HOST="$$(hack/swarm.sh host)" \
		go test $(GO_TEST_FLAGS) -tags faults -v ./test/faults/ 2>&1 | tee $(LOCALBIN)/test-faults.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+\S+_test.go)' ; \
	grep -qE '^(FAIL|panic)' $(LOCALBIN)/test-faults.log && { echo "fault tests failed: see bin/test-faults.log"; exit 1; } || true

.PHONY: test-multinode
test-multinode: envtest-assets swarm-multi-up ## Tests on the 3-node Swarm (placement, node crash, drain): go test -tags multinode ./test/multinode/.
	@mkdir -p $(LOCALBIN)
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" KARGO_MULTINODE_DOCKER_HOST="$$(hack/swarm.sh host --nodes 3)" \
		go test $(GO_TEST_FLAGS) -tags multinode -v ./test/multinode/ 2>&1 | tee $(LOCALBIN)/test-multinode.log | grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic|\s+\S+_test.go)' ; \
	grep -qE '^(FAIL|panic)' $(LOCALBIN)/test-multinode.log && { echo "multi-node tests failed: see bin/test-multinode.log"; exit 1; } || true

.PHONY: test-quickstart
test-quickstart: build envtest-assets swarm-up ## The quickstart end to end (up, a release to prod, a broken one rolled back in test, down): hack/test-quickstart.sh.
	PATH="$$(hack/envtest-assets.sh):$$PATH" hack/test-quickstart.sh

.PHONY: test-stress
test-stress: ## make test with every core kept busy by hack/stress.sh (a slow, loaded machine).
	hack/stress.sh $(MAKE) test

.PHONY: bench
bench: swarm-up envtest-assets ## Benchmarks of ./internal/... and Kargo vs docker stack deploy side by side (hack/bench), on the local Swarm.
	@mkdir -p $(LOCALBIN)
	DOCKER_HOST="$$(hack/swarm.sh host)" \
		go test -run '^$$' -bench . -benchmem ./internal/... 2>&1 | tee $(LOCALBIN)/bench.log | grep -E '^(Benchmark|ok|FAIL|--- |panic|\s+\S+_test.go)'
	@echo "== ratios (median of adjacent pairs; full log in bin/bench.log)"
	@awk '/^Benchmark/ { x = ""; delete ns; \
		for (i = 3; i < NF; i++) { u = $$(i+1); \
			if (u ~ /^x-/) { x = substr(u, 3); r = $$i } else if (u ~ /^ns\//) ns[substr(u, 4)] = $$i / 1e6 } \
		for (k in ns) if (k != "op" && k != x) op = k; \
		if (x != "") printf "  %-28s %6.2f x-%-8s %s %.3g ms, %s %.3g ms\n", $$1, r, x, op, ns[op], x, ns[x] }' $(LOCALBIN)/bench.log
	@echo "== Kargo vs docker stack deploy (hack/bench $(BENCH_FLAGS); logs, profiles and the table in bin/bench)"
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" DOCKER_HOST="$$(hack/swarm.sh host)" \
		go run ./hack/bench -out $(LOCALBIN)/bench $(BENCH_FLAGS)

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the kargo binary, and the quickstart's registry (hack/registry), into bin/.
	go build -o $(LOCALBIN)/kargo .
	go build -o $(LOCALBIN)/kargo-registry ./hack/registry

.PHONY: run
run: manifests generate fmt vet ## Run the manager against the current kubeconfig (no admission webhook: nothing in the cluster can call it).
	go run . manager --webhook-port=0

.PHONY: docker-build
docker-build: ## Build the manager image (needs a Docker engine with network access).
	docker build -t $(IMG) .

.PHONY: build-installer
build-installer: manifests generate ## Write dist/install.yaml: CRDs, RBAC and the manager Deployment.
	mkdir -p dist
	$(KUSTOMIZE) config/default | sed 's|image: controller:latest|image: $(IMG)|' > dist/install.yaml

##@ Deployment

.PHONY: install
install: manifests ## Install the CRDs into the cluster of the current kubeconfig.
	$(KUSTOMIZE) config/crd | kubectl apply --server-side -f -

.PHONY: uninstall
uninstall: manifests ## Remove the CRDs (and with them every Kargo object).
	$(KUSTOMIZE) config/crd | kubectl delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests ## Deploy the manager into the cluster of the current kubeconfig.
	$(KUSTOMIZE) config/default | sed 's|image: controller:latest|image: $(IMG)|' | kubectl apply --server-side -f -

.PHONY: undeploy
undeploy: ## Remove the manager from the cluster.
	$(KUSTOMIZE) config/default | kubectl delete --ignore-not-found -f -

.PHONY: quickstart
quickstart: build envtest-assets ## Local apiserver + local Swarm + registry + manager + samples and a promotion pipeline, wait until Ready.
	hack/quickstart.sh up

.PHONY: quickstart-down
quickstart-down: ## Stop everything quickstart started.
	hack/quickstart.sh down

##@ Tools

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN)
$(CONTROLLER_GEN):
	mkdir -p $(LOCALBIN)
	GOBIN=$(LOCALBIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_TOOLS_VERSION)
	mv $(LOCALBIN)/controller-gen $(CONTROLLER_GEN)
