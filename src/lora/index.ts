// LoRA adapters: the per-site forward/backward (lora.ts) and the adapter with PEFT export/import
// (adapter.ts). Import from here.

export * from './lora.ts';
export * from './adapter.ts';
