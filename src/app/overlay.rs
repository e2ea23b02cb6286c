//! GPU drawing of the canvas panes: an egui_wgpu paint callback whose fragment shader
//! (`shaders/render/overlay.wgsl`) composes the image, a map through a colormap table, the
//! thresholded region (outline, hit/miss) and the annotation mask. Textures live in the renderer's
//! callback resources; the app updates them (the mask by its changed rectangle only).

use bytemuck::{Pod, Zeroable};
use eframe::egui_wgpu::{self, wgpu};

use crate::io::colormap::Colormap;
use crate::metrics::Rect;

/// The shader source.
pub const OVERLAY_WGSL: &str = include_str!("../../shaders/render/overlay.wgsl");

/// Colormaps in the order of the table's rows.
pub const COLORMAPS: [Colormap; 5] = [
    Colormap::Turbo,
    Colormap::Jet,
    Colormap::Viridis,
    Colormap::Inferno,
    Colormap::Gray,
];

/// Panes drawn at most (one uniform buffer each).
pub const MAX_PANES: usize = 4;

/// Uniforms of one pane; mirrors `Pane` in the shader.
#[repr(C)]
#[derive(Debug, Clone, Copy, Pod, Zeroable, PartialEq)]
pub struct PaneUniform {
    /// Framebuffer position of the image's top-left corner.
    pub origin: [f32; 2],
    /// Physical pixels per image pixel.
    pub scale: f32,
    /// Map layer or -1.
    pub map_layer: i32,
    /// Image size.
    pub image_size: [u32; 2],
    /// Colormap row.
    pub colormap: u32,
    /// Flags (1 outline, 2 hit/miss, 4 mask, 8 mask outline).
    pub flags: u32,
    /// Map opacity.
    pub opacity: f32,
    /// Threshold of the selected region.
    pub threshold: f32,
    /// Mask opacity.
    pub mask_opacity: f32,
    /// Padding.
    pub pad: f32,
    /// Class colours (index 0 unused).
    pub class_colors: [[f32; 4]; 9],
}

/// Flag bits.
pub const FLAG_OUTLINE: u32 = 1;
/// Hit/miss colouring.
pub const FLAG_HIT_MISS: u32 = 2;
/// Show the mask.
pub const FLAG_MASK: u32 = 4;
/// Outline mask regions.
pub const FLAG_MASK_OUTLINE: u32 = 8;

/// GPU objects of the overlay, stored in the renderer's callback resources.
pub struct OverlayResources {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    uniforms: Vec<wgpu::Buffer>,
    lut: wgpu::Texture,
    textures: Option<Textures>,
    bind_groups: Vec<wgpu::BindGroup>,
}

struct Textures {
    size: (u32, u32),
    image: wgpu::Texture,
    maps: wgpu::Texture,
    mask: wgpu::Texture,
}

fn texture_entry(
    binding: u32,
    sample: wgpu::TextureSampleType,
    dim: wgpu::TextureViewDimension,
) -> wgpu::BindGroupLayoutEntry {
    wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::FRAGMENT,
        ty: wgpu::BindingType::Texture {
            sample_type: sample,
            view_dimension: dim,
            multisampled: false,
        },
        count: None,
    }
}

impl OverlayResources {
    /// Builds the pipeline for the renderer's target format and registers the resources.
    pub fn install(rs: &egui_wgpu::RenderState) {
        let device = &rs.device;
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("vitscope overlay"),
            source: wgpu::ShaderSource::Wgsl(OVERLAY_WGSL.into()),
        });
        let float = wgpu::TextureSampleType::Float { filterable: false };
        let d2 = wgpu::TextureViewDimension::D2;
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("vitscope overlay"),
            entries: &[
                wgpu::BindGroupLayoutEntry {
                    binding: 0,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
                texture_entry(1, float, d2),
                texture_entry(2, float, wgpu::TextureViewDimension::D2Array),
                texture_entry(3, wgpu::TextureSampleType::Uint, d2),
                texture_entry(4, float, d2),
            ],
        });
        let pl = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("vitscope overlay"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("vitscope overlay"),
            layout: Some(&pl),
            vertex: wgpu::VertexState {
                module: &shader,
                entry_point: Some("vs_main"),
                buffers: &[],
                compilation_options: Default::default(),
            },
            fragment: Some(wgpu::FragmentState {
                module: &shader,
                entry_point: Some("fs_main"),
                targets: &[Some(rs.target_format.into())],
                compilation_options: Default::default(),
            }),
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            multiview_mask: None,
            cache: None,
        });
        let uniforms = (0..MAX_PANES)
            .map(|_| {
                device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("vitscope pane"),
                    size: std::mem::size_of::<PaneUniform>() as u64,
                    usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                })
            })
            .collect();
        let lut = device.create_texture(&wgpu::TextureDescriptor {
            label: Some("vitscope colormaps"),
            size: wgpu::Extent3d {
                width: 256,
                height: COLORMAPS.len() as u32,
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba8Unorm,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        let mut table = Vec::with_capacity(256 * 4 * COLORMAPS.len());
        for c in COLORMAPS {
            for i in 0..256 {
                let [r, g, b] = c.rgb(i as f32 / 255.0);
                let q = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                table.extend_from_slice(&[q(r), q(g), q(b), 255]);
            }
        }
        rs.queue.write_texture(
            lut.as_image_copy(),
            &table,
            wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(256 * 4),
                rows_per_image: None,
            },
            lut.size(),
        );
        rs.renderer
            .write()
            .callback_resources
            .insert(OverlayResources {
                pipeline,
                layout,
                uniforms,
                lut,
                textures: None,
                bind_groups: Vec::new(),
            });
    }

    fn ensure_size(&mut self, device: &wgpu::Device, w: u32, h: u32) {
        if self.textures.as_ref().is_some_and(|t| t.size == (w, h)) {
            return;
        }
        let make = |label: &str, format: wgpu::TextureFormat, layers: u32| {
            device.create_texture(&wgpu::TextureDescriptor {
                label: Some(label),
                size: wgpu::Extent3d {
                    width: w,
                    height: h,
                    depth_or_array_layers: layers,
                },
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format,
                usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            })
        };
        let t = Textures {
            size: (w, h),
            image: make("vitscope image", wgpu::TextureFormat::Rgba8Unorm, 1),
            maps: make("vitscope maps", wgpu::TextureFormat::R32Float, 3),
            mask: make("vitscope mask", wgpu::TextureFormat::R8Uint, 1),
        };
        let image_view = t.image.create_view(&Default::default());
        let maps_view = t.maps.create_view(&wgpu::TextureViewDescriptor {
            dimension: Some(wgpu::TextureViewDimension::D2Array),
            ..Default::default()
        });
        let mask_view = t.mask.create_view(&Default::default());
        let lut_view = self.lut.create_view(&Default::default());
        self.bind_groups = self
            .uniforms
            .iter()
            .map(|u| {
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("vitscope pane"),
                    layout: &self.layout,
                    entries: &[
                        wgpu::BindGroupEntry {
                            binding: 0,
                            resource: u.as_entire_binding(),
                        },
                        wgpu::BindGroupEntry {
                            binding: 1,
                            resource: wgpu::BindingResource::TextureView(&image_view),
                        },
                        wgpu::BindGroupEntry {
                            binding: 2,
                            resource: wgpu::BindingResource::TextureView(&maps_view),
                        },
                        wgpu::BindGroupEntry {
                            binding: 3,
                            resource: wgpu::BindingResource::TextureView(&mask_view),
                        },
                        wgpu::BindGroupEntry {
                            binding: 4,
                            resource: wgpu::BindingResource::TextureView(&lut_view),
                        },
                    ],
                })
            })
            .collect();
        self.textures = Some(t);
    }
}

fn write_region(
    queue: &wgpu::Queue,
    tex: &wgpu::Texture,
    layer: u32,
    r: &Rect,
    bytes_per_px: usize,
    bytes: &[u8],
) {
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: tex,
            mip_level: 0,
            origin: wgpu::Origin3d {
                x: r.x0 as u32,
                y: r.y0 as u32,
                z: layer,
            },
            aspect: wgpu::TextureAspect::All,
        },
        bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(((r.x1 - r.x0) * bytes_per_px) as u32),
            rows_per_image: None,
        },
        wgpu::Extent3d {
            width: (r.x1 - r.x0) as u32,
            height: (r.y1 - r.y0) as u32,
            depth_or_array_layers: 1,
        },
    );
}

/// An upload to the overlay textures.
pub enum Upload<'a> {
    /// The image as RGBA8 (resizes the textures when its size changed).
    Image {
        /// Width.
        width: usize,
        /// Height.
        height: usize,
        /// RGBA bytes.
        rgba: &'a [u8],
    },
    /// Map layer values (full size).
    Map {
        /// Layer 0..3.
        layer: u32,
        /// Values.
        values: &'a [f32],
    },
    /// A rectangle of the class-id mask (`data` is the whole mask).
    Mask {
        /// Changed rectangle.
        rect: Rect,
        /// Whole mask, row-major.
        data: &'a [u8],
    },
}

/// Applies uploads through the render state (called from the UI thread before painting).
pub fn upload(rs: &egui_wgpu::RenderState, items: &[Upload]) {
    let mut renderer = rs.renderer.write();
    let Some(res) = renderer.callback_resources.get_mut::<OverlayResources>() else {
        return;
    };
    for it in items {
        match it {
            Upload::Image {
                width,
                height,
                rgba,
            } => {
                res.ensure_size(&rs.device, *width as u32, *height as u32);
                let t = res.textures.as_ref().expect("sized above");
                let full = Rect {
                    x0: 0,
                    y0: 0,
                    x1: *width,
                    y1: *height,
                };
                write_region(&rs.queue, &t.image, 0, &full, 4, rgba);
            }
            Upload::Map { layer, values } => {
                let Some(t) = res.textures.as_ref() else {
                    continue;
                };
                let (w, h) = (t.size.0 as usize, t.size.1 as usize);
                if values.len() != w * h {
                    continue;
                }
                let full = Rect {
                    x0: 0,
                    y0: 0,
                    x1: w,
                    y1: h,
                };
                write_region(
                    &rs.queue,
                    &t.maps,
                    *layer,
                    &full,
                    4,
                    bytemuck::cast_slice(values),
                );
            }
            Upload::Mask { rect, data } => {
                let Some(t) = res.textures.as_ref() else {
                    continue;
                };
                let w = t.size.0 as usize;
                let mut bytes = Vec::with_capacity(rect.area());
                for y in rect.y0..rect.y1 {
                    bytes.extend_from_slice(&data[y * w + rect.x0..y * w + rect.x1]);
                }
                if !bytes.is_empty() {
                    write_region(&rs.queue, &t.mask, 0, rect, 1, &bytes);
                }
            }
        }
    }
}

/// Writes a pane's uniforms.
pub fn set_pane(rs: &egui_wgpu::RenderState, pane: usize, u: &PaneUniform) {
    let renderer = rs.renderer.read();
    if let Some(res) = renderer.callback_resources.get::<OverlayResources>() {
        rs.queue
            .write_buffer(&res.uniforms[pane], 0, bytemuck::bytes_of(u));
    }
}

/// The paint callback of one pane.
pub struct PaneCallback {
    /// Pane index (its uniform buffer).
    pub pane: usize,
}

impl egui_wgpu::CallbackTrait for PaneCallback {
    fn paint(
        &self,
        _info: eframe::egui::PaintCallbackInfo,
        render_pass: &mut wgpu::RenderPass<'static>,
        resources: &egui_wgpu::CallbackResources,
    ) {
        let Some(res) = resources.get::<OverlayResources>() else {
            return;
        };
        let Some(bg) = res.bind_groups.get(self.pane) else {
            return;
        };
        render_pass.set_pipeline(&res.pipeline);
        render_pass.set_bind_group(0, bg, &[]);
        render_pass.draw(0..3, 0..1);
    }
}
