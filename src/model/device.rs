//! Choosing where tensors live: burn's pure-Rust Flex backend on the CPU, or wgpu on a GPU.
//!
//! `auto` takes wgpu only when a hardware adapter exists; software adapters (lavapipe, llvmpipe)
//! are slower than Flex for this work, so they count as "no GPU".

use burn::tensor::{Device, DeviceKind};

/// Requested compute device.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    strum::VariantArray,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumMessage,
    serde::Serialize,
    serde::Deserialize,
)]
#[strum(serialize_all = "kebab-case")]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A real GPU if present, else the CPU.
    #[default]
    Auto,
    /// The CPU (burn Flex backend).
    Cpu,
    /// wgpu on the best adapter (may be a software one).
    Gpu,
}

/// Whether wgpu sees a hardware (non-CPU) adapter.
pub fn hardware_gpu_present() -> bool {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: wgpu::Backends::PRIMARY,
        ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
    });
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY));
    adapters
        .iter()
        .any(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
}

/// Resolves a choice to a burn device.
pub fn resolve(choice: DeviceChoice) -> Device {
    match choice {
        DeviceChoice::Cpu => Device::flex(),
        DeviceChoice::Gpu => Device::wgpu(DeviceKind::DefaultDevice),
        DeviceChoice::Auto => {
            if hardware_gpu_present() {
                Device::wgpu(DeviceKind::DefaultDevice)
            } else {
                Device::flex()
            }
        }
    }
}

/// A short description for logs.
pub fn describe(device: &Device) -> String {
    format!("{device:?}")
}
