{{/* The chart's name, or nameOverride. */}}
{{- define "medslice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The full name objects are prefixed with: the release name, unless it already contains the chart's. */}}
{{- define "medslice.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "medslice.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: medslice
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* Selector labels of one component (operator, emulator, reflector). */}}
{{- define "medslice.selector" -}}
app.kubernetes.io/name: {{ include "medslice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "medslice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "medslice.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "medslice.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* Container security context shared by every medslice container. */}}
{{- define "medslice.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "medslice.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* In-cluster URL of the operator's notification receiver. */}}
{{- define "medslice.notifyURL" -}}
http://{{ include "medslice.fullname" . }}-notify.{{ .Release.Namespace }}.svc:{{ .Values.service.notificationsPort }}
{{- end }}

{{- define "medslice.emulatorURL" -}}
http://{{ include "medslice.fullname" . }}-emulator.{{ .Release.Namespace }}.svc:{{ .Values.demo.emulator.port }}
{{- end }}

{{- define "medslice.reflectorAddr" -}}
{{ include "medslice.fullname" . }}-reflector.{{ .Release.Namespace }}.svc:{{ .Values.demo.reflector.port }}
{{- end }}

{{/* Rules of one kind (ClusterRole or Role) of files/rbac/role.yaml, the copy of config/rbac/role.yaml. */}}
{{- define "medslice.operatorRules" -}}
{{- range (.root.Files.Get "files/rbac/role.yaml" | splitList "\n---") }}
{{- $doc := fromYaml . }}
{{- if and $doc (eq (get $doc "kind") $.kind) }}
{{- toYaml (get $doc "rules") }}
{{- end }}
{{- end }}
{{- end }}

{{/* RBAC subjects of one persona binding: its groups and users. */}}
{{- define "medslice.subjects" -}}
{{- range .groups }}
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: {{ . | quote }}}
{{- end }}
{{- range .users }}
- {kind: User, apiGroup: rbac.authorization.k8s.io, name: {{ . | quote }}}
{{- end }}
{{- end }}
