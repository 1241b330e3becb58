# medslice — one target per thing a person does.
SHELL := /usr/bin/env bash
BIN   := $(CURDIR)/bin
GO    ?= go
CONTROLLER_GEN := $(BIN)/controller-gen

.PHONY: all
all: build

##@ People

.PHONY: run
run: controlplane build ## Bring up the embedded default (control plane, emulator, operator, samples) until Ctrl-C.
	$(BIN)/medslice-devstack

.PHONY: test
test: controlplane build helm ## Unit, integration (real kube-apiserver), chart and end-to-end tests.
	$(GO) test -race -count=1 ./...
	# -v: the end-to-end figures (chaos counts, failover takeover, alert
	# timings, evidence gaps) belong in the log even when everything passes.
	$(GO) test -count=1 -tags e2e -timeout 30m -v ./e2e/...

.PHONY: e2e
e2e: controlplane build ## End-to-end tests of the built binaries only.
	$(GO) test -count=1 -tags e2e -timeout 30m -v ./e2e/...

FUZZTIME ?= 60s
.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME (default 60s) each.
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' internal cmd); do \
		pkg=./$$(dirname $$f); \
		for t in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | sed 's/^func //'); do \
			echo "== fuzz $$pkg $$t ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

.PHONY: bench
bench: controlplane build ## Benchmarks of DESIGN §10; prints figures and the machine.
	$(GO) run ./hack/bench

.PHONY: lint
lint: ## go vet and gofmt.
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

##@ Build

.PHONY: build
build: ## Build the medslice binaries into bin/.
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: controlplane
controlplane: ## Build etcd and kube-apiserver from their Go modules into bin/ (once).
	@bash hack/build-controlplane.sh

$(CONTROLLER_GEN):
	@mkdir -p $(BIN)
	cd hack/tools/codegen && $(GO) build -o $(CONTROLLER_GEN) sigs.k8s.io/controller-tools/cmd/controller-gen

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs and RBAC into config/.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) rbac:roleName=medslice-operator paths=./controllers/... output:rbac:artifacts:config=config/rbac
	@$(MAKE) --no-print-directory chart-sync

.PHONY: verify-generated
verify-generated: generate manifests ## Fail when generated files are stale.
	@git diff --exit-code -- api config/crd config/rbac charts/medslice/crds charts/medslice/files || { echo "generated files are stale: run make generate manifests and commit"; exit 1; }

.PHONY: helm
helm: ## Build helm from its Go module into bin/ (once).
	@bash hack/build-helm.sh

.PHONY: helm-lint
helm-lint: helm ## Lint the Helm chart with defaults and with every optional part on.
	$(BIN)/helm lint --strict charts/medslice
	$(BIN)/helm lint --strict charts/medslice --values internal/chart/testdata/all-on.yaml

.PHONY: rules-test
rules-test: ## Test the Prometheus alerts with promtool (Debian package prometheus).
	promtool test rules config/prometheus/rules_test.yaml

.PHONY: chart-sync
chart-sync: ## Copy generated manifests and rules into the chart (helm cannot read outside it).
	cp config/crd/bases/*.yaml charts/medslice/crds/
	cp config/rbac/role.yaml charts/medslice/files/rbac/role.yaml
	cp config/prometheus/rules.yaml charts/medslice/files/prometheus-rules.yaml

.PHONY: docker-build
docker-build: ## Build the image (needs a Docker engine; there is none on the dev machines).
	docker build -t medslice:dev .

.PHONY: help
help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'
