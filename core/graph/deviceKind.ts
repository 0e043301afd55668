/**
 * The names of the devices and CPU-node policies, without onnxruntime: configs and Temporal's workflow
 * bundle (which may not load native modules) use them to name queues; core/graph/device.ts maps them to ORT.
 */
export const DEVICE_KINDS = ['cpu', 'cuda'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/**
 * What a CUDA session does with nodes the CUDA provider does not take: "forbid" makes session creation fail
 * (ORT's `session.disable_cpu_ep_fallback`), "allow" lets ORT place them on the CPU provider with copies.
 */
export const CPU_NODE_POLICIES = ['forbid', 'allow'] as const;
export type CpuNodePolicy = (typeof CPU_NODE_POLICIES)[number];
