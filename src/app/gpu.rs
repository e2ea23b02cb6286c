//! One GPU device for eframe and burn: the wgpu setup eframe starts with (the features and
//! limits burn needs), and burn's device on eframe's wgpu device.

/// eframe's wgpu setup: the device is requested with every feature and limit the adapter offers
/// (less `MAPPABLE_PRIMARY_BUFFERS`), which burn's wgpu runtime needs to run on the same device.
pub fn wgpu_setup() -> eframe::egui_wgpu::WgpuSetup {
    use eframe::egui_wgpu::{WgpuSetup, WgpuSetupCreateNew, wgpu};
    let mut setup = WgpuSetupCreateNew::without_display_handle();
    setup.device_descriptor =
        std::sync::Arc::new(|adapter: &wgpu::Adapter| wgpu::DeviceDescriptor {
            label: Some("vitscope"),
            required_features: adapter.features() - wgpu::Features::MAPPABLE_PRIMARY_BUFFERS,
            required_limits: adapter.limits(),
            ..Default::default()
        });
    WgpuSetup::CreateNew(setup)
}

/// Registers eframe's wgpu device with burn, so the model runs on the GPU that draws the panes.
pub fn burn_device_for(
    rs: &eframe::egui_wgpu::RenderState,
) -> Result<burn::tensor::Device, String> {
    use burn::tensor::wgpu::WgpuSetup;
    let setup = WgpuSetup {
        instance: rs.instance.clone(),
        adapter: rs.adapter.clone(),
        device: rs.device.clone(),
        queue: rs.queue.clone(),
        backend: rs.adapter.get_info().backend,
    };
    burn::tensor::Device::wgpu_options()
        .setup(setup)
        .init()
        .map_err(|e| e.to_string())
}
