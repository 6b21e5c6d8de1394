/* minik8s version, and the Kubernetes API version it serves (/version). */
#ifndef MINIK8S_VERSION_H
#define MINIK8S_VERSION_H
#define MINIK8S_VERSION "0.1.0"
#define MINIK8S_KUBE_MAJOR "1"
#define MINIK8S_KUBE_MINOR "32"
#endif
