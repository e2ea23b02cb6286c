//! WGSL compute-shader twin of the CPU metrics, and the backend choice between the two.
//!
//! Kernels (`shaders/`, each compiled as `types.wgsl` + the kernel), dispatched in one compute
//! pass per evaluation:
//! 1. `histogram_hi`: 65536-bin histogram of the high 16 bits of the order keys, and the maximum;
//! 2. `locate_hi`: for each rank, its high bin and the rank inside it;
//! 3. `histogram_lo`: low-16 histograms of the keys in those bins;
//! 4. `locate_lo`: the exact threshold of each rank;
//! 5. `binarize`: selection counts, intersections, bounding rectangles, pointing game, sums;
//! 6. `rect_count`: mask pixels inside each rectangle.
//!
//! One small state buffer and the per-workgroup partial sums come back to the CPU. Counts equal
//! the CPU reference exactly; sums are accumulated in f32 per workgroup and in f64 on the CPU.
//!
//! [`compute`] with [`DeviceChoice::Auto`] uses the GPU only on a hardware adapter: on software
//! rasterisers (lavapipe, llvmpipe) the CPU loop is faster.

use std::sync::{Mutex, OnceLock};

use super::gpu_data::{self, Params, STATE_WORDS};
use super::{Mask, MetricSet, MetricsError, RawCounts, Rect, finish, top_k_count, validate};
use crate::model::device::DeviceChoice;

/// WGSL sources, in dispatch order: (name, kernel source).
pub const KERNELS: [(&str, &str); 6] = [
    (
        "histogram_hi",
        include_str!("../../shaders/histogram_hi.wgsl"),
    ),
    ("locate_hi", include_str!("../../shaders/locate_hi.wgsl")),
    (
        "histogram_lo",
        include_str!("../../shaders/histogram_lo.wgsl"),
    ),
    ("locate_lo", include_str!("../../shaders/locate_lo.wgsl")),
    ("binarize", include_str!("../../shaders/binarize.wgsl")),
    ("rect_count", include_str!("../../shaders/rect_count.wgsl")),
];

/// Declarations shared by every kernel.
pub const TYPES: &str = include_str!("../../shaders/types.wgsl");

/// Full source of one kernel as compiled.
pub fn kernel_source(kernel: &str) -> String {
    format!("{TYPES}\n{kernel}")
}

/// Workgroups of the grid-stride kernels.
const WORKGROUPS: u32 = 1024;
const BINS: u64 = 65536;

fn gpu_err(e: impl std::fmt::Display) -> MetricsError {
    MetricsError::Gpu(e.to_string())
}

struct Buffers {
    capacity: usize,
    map: wgpu::Buffer,
    mask: wgpu::Buffer,
    bind_group: wgpu::BindGroup,
}

/// A device, its queue, the six pipelines and reusable buffers.
pub struct GpuMetrics {
    device: wgpu::Device,
    queue: wgpu::Queue,
    /// Adapter description.
    pub adapter_info: wgpu::AdapterInfo,
    layout: wgpu::BindGroupLayout,
    pipelines: Vec<wgpu::ComputePipeline>,
    params: wgpu::Buffer,
    state: wgpu::Buffer,
    hist_hi: wgpu::Buffer,
    hist_lo: wgpu::Buffer,
    partials: wgpu::Buffer,
    readback: wgpu::Buffer,
    buffers: Option<Buffers>,
}

impl GpuMetrics {
    /// Opens the default adapter (hardware preferred) and builds the pipelines.
    pub fn new_default() -> Result<Self, MetricsError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::PRIMARY,
            ..wgpu::InstanceDescriptor::new_without_display_handle_from_env()
        });
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|e| gpu_err(format!("no wgpu adapter: {e}")))?;
        let info = adapter.get_info();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("vitscope metrics"),
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .map_err(gpu_err)?;
        Self::new(device, queue, info)
    }

    /// Builds the pipelines on an existing device (e.g. the GUI's).
    pub fn new(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter_info: wgpu::AdapterInfo,
    ) -> Result<Self, MetricsError> {
        let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("metrics"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                storage(1, true),
                storage(2, true),
                storage(3, false),
                storage(4, false),
                storage(5, false),
                storage(6, false),
            ],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("metrics"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipelines = KERNELS
            .iter()
            .map(|(name, src)| {
                let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(kernel_source(src).into()),
                });
                device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .collect();
        let buf = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        use wgpu::BufferUsages as U;
        let params = buf(
            "params",
            size_of::<Params>() as u64,
            U::UNIFORM | U::COPY_DST,
        );
        let state = buf(
            "state",
            STATE_WORDS as u64 * 4,
            U::STORAGE | U::COPY_DST | U::COPY_SRC,
        );
        let hist_hi = buf("hist_hi", BINS * 4, U::STORAGE | U::COPY_DST);
        let hist_lo = buf("hist_lo", 4 * BINS * 4, U::STORAGE | U::COPY_DST);
        let partials = buf(
            "partials",
            WORKGROUPS as u64 * 2 * 4,
            U::STORAGE | U::COPY_SRC | U::COPY_DST,
        );
        let readback = buf(
            "readback",
            STATE_WORDS as u64 * 4 + WORKGROUPS as u64 * 2 * 4,
            U::MAP_READ | U::COPY_DST,
        );
        Ok(Self {
            device,
            queue,
            adapter_info,
            layout,
            pipelines,
            params,
            state,
            hist_hi,
            hist_lo,
            partials,
            readback,
            buffers: None,
        })
    }

    /// Whether the adapter is a software rasteriser.
    pub fn is_software(&self) -> bool {
        self.adapter_info.device_type == wgpu::DeviceType::Cpu
    }

    fn ensure_buffers(&mut self, n: usize) {
        if self.buffers.as_ref().is_some_and(|b| b.capacity >= n) {
            return;
        }
        let capacity = n.next_power_of_two().max(1024);
        use wgpu::BufferUsages as U;
        let map = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("map"),
            size: capacity as u64 * 4,
            usage: U::STORAGE | U::COPY_DST,
            mapped_at_creation: false,
        });
        let mask = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mask"),
            size: capacity as u64,
            usage: U::STORAGE | U::COPY_DST,
            mapped_at_creation: false,
        });
        let entries: Vec<wgpu::BindGroupEntry<'_>> = [
            &self.params,
            &map,
            &mask,
            &self.state,
            &self.hist_hi,
            &self.hist_lo,
            &self.partials,
        ]
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("metrics"),
            layout: &self.layout,
            entries: &entries,
        });
        self.buffers = Some(Buffers {
            capacity,
            map,
            mask,
            bind_group,
        });
    }

    /// Evaluates every metric of `map` against `mask` (at most 4 percentages).
    pub fn compute(
        &mut self,
        map: &[f32],
        width: usize,
        height: usize,
        mask: &Mask,
        tops: &[f64],
    ) -> Result<MetricSet, MetricsError> {
        validate(map, width, height, mask, tops)?;
        let n = map.len();
        if tops.len() > 4 || tops.is_empty() {
            return Err(gpu_err("the GPU path takes 1 to 4 percentages"));
        }
        if n >= u32::MAX as usize {
            return Err(gpu_err("map too large for 32-bit indexing"));
        }
        let ks: Vec<usize> = tops.iter().map(|&p| top_k_count(n, p)).collect();
        self.ensure_buffers(n);
        let bufs = self.buffers.as_ref().ok_or_else(|| gpu_err("no buffers"))?;
        let mut kk = [0u32; 4];
        for (slot, &k) in kk.iter_mut().zip(&ks) {
            *slot = k.min(n - 1) as u32;
        }
        let params = Params {
            n: n as u32,
            width: width as u32,
            num_tops: tops.len() as u32,
            pad: 0,
            ks: kk,
        };
        self.queue
            .write_buffer(&self.params, 0, bytemuck::bytes_of(&params));
        self.queue
            .write_buffer(&bufs.map, 0, bytemuck::cast_slice(map));
        let mut packed = mask.data.clone();
        packed.resize(n.div_ceil(4) * 4, 0);
        self.queue.write_buffer(&bufs.mask, 0, &packed);
        self.queue.write_buffer(
            &self.state,
            0,
            bytemuck::cast_slice(&gpu_data::initial_state()),
        );
        // Partials of workgroups that did not run must read as zero.
        self.queue.write_buffer(
            &self.partials,
            0,
            bytemuck::cast_slice(&vec![0f32; WORKGROUPS as usize * 2]),
        );
        let mut enc = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        enc.clear_buffer(&self.hist_hi, 0, None);
        enc.clear_buffer(&self.hist_lo, 0, None);
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("metrics"),
                timestamp_writes: None,
            });
            pass.set_bind_group(0, &bufs.bind_group, &[]);
            let grid = WORKGROUPS.min((n as u32).div_ceil(256)).max(1);
            for (i, p) in self.pipelines.iter().enumerate() {
                pass.set_pipeline(p);
                let single = matches!(KERNELS[i].0, "locate_hi" | "locate_lo");
                pass.dispatch_workgroups(if single { 1 } else { grid }, 1, 1);
            }
        }
        let state_bytes = STATE_WORDS as u64 * 4;
        enc.copy_buffer_to_buffer(&self.state, 0, &self.readback, 0, state_bytes);
        enc.copy_buffer_to_buffer(
            &self.partials,
            0,
            &self.readback,
            state_bytes,
            WORKGROUPS as u64 * 8,
        );
        self.queue.submit([enc.finish()]);
        let slice = self.readback.slice(..);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(gpu_err)?;
        rx.recv().map_err(gpu_err)?.map_err(gpu_err)?;
        let (state, partials): (Vec<u32>, Vec<f32>) = {
            let data = slice.get_mapped_range().map_err(gpu_err)?;
            let words: &[u32] = bytemuck::cast_slice(&data[..state_bytes as usize]);
            let parts: &[f32] = bytemuck::cast_slice(&data[state_bytes as usize..]);
            (words.to_vec(), parts.to_vec())
        };
        self.readback.unmap();
        let (mut sum_in, mut sum_all) = (0f64, 0f64);
        for pair in partials.chunks_exact(2) {
            sum_in += pair[0] as f64;
            sum_all += pair[1] as f64;
        }
        use gpu_data::*;
        let top = (0..tops.len())
            .map(|t| {
                let selected = state[S_SEL + t] as usize;
                let rect = (selected > 0).then(|| Rect {
                    x0: state[S_X0 + t] as usize,
                    y0: state[S_Y0 + t] as usize,
                    x1: state[S_X1 + t] as usize,
                    y1: state[S_Y1 + t] as usize,
                });
                (
                    ks[t],
                    super::select::from_key(state[S_THR + t]),
                    selected,
                    rect,
                    state[S_INTER + t] as usize,
                    state[S_IRECT + t] as usize,
                )
            })
            .collect();
        Ok(finish(
            RawCounts {
                max: super::select::from_key(state[S_MAX]),
                pointing_game: state[S_PG] != 0,
                sum_in,
                sum_all,
                mask_pixels: state[S_MASK] as usize,
                pixels: n,
                top,
            },
            tops,
        ))
    }
}

static SHARED: OnceLock<Mutex<Result<GpuMetrics, String>>> = OnceLock::new();

fn with_shared<T>(
    f: impl FnOnce(&mut GpuMetrics) -> Result<T, MetricsError>,
) -> Result<T, MetricsError> {
    let cell =
        SHARED.get_or_init(|| Mutex::new(GpuMetrics::new_default().map_err(|e| e.to_string())));
    let mut guard = cell.lock().map_err(|_| gpu_err("GPU context poisoned"))?;
    match guard.as_mut() {
        Ok(g) => f(g),
        Err(e) => Err(MetricsError::Gpu(e.clone())),
    }
}

/// Makes the process-wide GPU context use an existing device (the GUI's, on a hardware GPU), so
/// the metrics kernels, the overlay and the model share one device. Has no effect once the
/// context exists.
pub fn share_device(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) {
    let _ = SHARED.get_or_init(|| {
        Mutex::new(GpuMetrics::new(device, queue, info).map_err(|e| e.to_string()))
    });
}

/// Whether `auto` would use the GPU: a hardware adapter is available.
pub fn auto_uses_gpu() -> bool {
    with_shared(|g| Ok(!g.is_software())).unwrap_or(false)
}

/// Evaluates the metrics on the chosen backend (a process-wide GPU context is created on first
/// use). More than 4 percentages are evaluated in groups of 4 on the GPU.
pub fn compute(
    map: &[f32],
    width: usize,
    height: usize,
    mask: &Mask,
    tops: &[f64],
    backend: DeviceChoice,
) -> Result<MetricSet, MetricsError> {
    let gpu = match backend {
        DeviceChoice::Cpu => false,
        DeviceChoice::Gpu => true,
        DeviceChoice::Auto => auto_uses_gpu(),
    };
    if !gpu {
        return super::compute_cpu(map, width, height, mask, tops);
    }
    validate(map, width, height, mask, tops)?;
    let mut merged: Option<MetricSet> = None;
    for group in tops.chunks(4) {
        let part = with_shared(|g| g.compute(map, width, height, mask, group))?;
        merged = Some(match merged {
            None => part,
            Some(mut m) => {
                m.top.extend(part.top);
                m
            }
        });
    }
    let mut set = merged.ok_or(MetricsError::Percentage(f64::NAN))?;
    if !set.energy.is_finite() {
        set.energy = super::scores::exact_energy(map, mask);
    }
    Ok(set)
}
