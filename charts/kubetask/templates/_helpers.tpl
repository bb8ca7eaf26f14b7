{{/* Names and labels shared by every object of the chart (the `helm create` conventions). */}}

{{- define "kubetask.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Object name prefix: the release name alone when it already contains the chart name. */}}
{{- define "kubetask.fullname" -}}
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

{{- define "kubetask.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubetask.instanceLabels" -}}
app.kubernetes.io/name: {{ include "kubetask.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "kubetask.selectorLabels" -}}
{{ include "kubetask.instanceLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels that describe rather than select: on every object, never in a selector. */}}
{{- define "kubetask.metaLabels" -}}
helm.sh/chart: {{ include "kubetask.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubetask
{{- end }}

{{- define "kubetask.labels" -}}
{{ include "kubetask.selectorLabels" . }}
{{ include "kubetask.metaLabels" . }}
{{- end }}

{{- define "kubetask.testLabels" -}}
{{ include "kubetask.instanceLabels" . }}
app.kubernetes.io/component: test
{{ include "kubetask.metaLabels" . }}
{{- end }}

{{- define "kubetask.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubetask.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false: name the ServiceAccount the operator runs as" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository@digest when a digest pins the image. */}}
{{- define "kubetask.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The namespaces that get task-side objects (Roles, the storage Secret): the watched ones, or the
     release namespace alone when the operator watches every namespace. */}}
{{- define "kubetask.taskNamespaces" -}}
{{- if .Values.watchNamespaces }}
{{- toJson (uniq .Values.watchNamespaces) }}
{{- else }}
{{- toJson (list .Release.Namespace) }}
{{- end }}
{{- end }}

{{/* The leader-election Role and RoleBinding: the full name, cut so the suffix still fits in 63. */}}
{{- define "kubetask.leaderElectionRbacName" -}}
{{- printf "%s-leader-election" (include "kubetask.fullname" . | trunc 46 | trimSuffix "-") }}
{{- end }}

{{/*
Non-empty when the TaskRun CRD exists in the cluster and this release does not own it (Helm's ownership
annotations name another release, or none: applied by `kubetask dev` or manifests/). Helm would refuse to
install over it ("invalid ownership metadata"); the chart leaves it alone. Empty under `helm template`, which
sees no cluster.
*/}}
{{- define "kubetask.crdManagedElsewhere" -}}
{{- if not .Values.crds.takeOwnership }}
{{- $existing := lookup "apiextensions.k8s.io/v1" "CustomResourceDefinition" "" "taskruns.kubetask.dev" }}
{{- if $existing }}
{{- $annotations := $existing.metadata.annotations | default dict }}
{{- $release := index $annotations "meta.helm.sh/release-name" | default "" }}
{{- $namespace := index $annotations "meta.helm.sh/release-namespace" | default "" }}
{{- if not (and (eq $release .Release.Name) (eq $namespace .Release.Namespace)) }}
{{- $release | default "none" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
