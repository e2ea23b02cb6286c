// One pane of the workbench canvas: the image, one explanation map through a colormap, the
// selected (thresholded) region with its outline or hit/miss colouring, and the annotation mask.
// Every texel is read with textureLoad (nearest), so maps show their exact values.

struct Pane {
    // Framebuffer position (physical pixels) of the image's top-left corner.
    origin: vec2<f32>,
    // Physical pixels per image pixel.
    scale: f32,
    // Map layer shown, or -1 for none.
    map_layer: i32,
    image_size: vec2<u32>,
    // Row of the colormap table.
    colormap: u32,
    // 1 outline, 2 hit/miss, 4 annotation mask, 8 mask outline.
    flags: u32,
    opacity: f32,
    threshold: f32,
    mask_opacity: f32,
    _pad: f32,
    // Colours of mask classes 1..8 (index 0 unused).
    class_colors: array<vec4<f32>, 9>,
};

@group(0) @binding(0) var<uniform> pane: Pane;
@group(0) @binding(1) var image_tex: texture_2d<f32>;
@group(0) @binding(2) var maps: texture_2d_array<f32>;
@group(0) @binding(3) var mask_tex: texture_2d<u32>;
@group(0) @binding(4) var lut: texture_2d<f32>;

@vertex
fn vs_main(@builtin(vertex_index) i: u32) -> @builtin(position) vec4<f32> {
    // A full-viewport triangle pair; egui sets the viewport to the pane's rectangle.
    let x = f32((i << 1u) & 2u);
    let y = f32(i & 2u);
    return vec4<f32>(x * 2.0 - 1.0, 1.0 - y * 2.0, 0.0, 1.0);
}

fn inside(p: vec2<i32>) -> bool {
    return p.x >= 0 && p.y >= 0 && u32(p.x) < pane.image_size.x && u32(p.y) < pane.image_size.y;
}

fn selected(p: vec2<i32>) -> bool {
    if (!inside(p)) {
        return false;
    }
    return textureLoad(maps, p, pane.map_layer, 0).r >= pane.threshold;
}

fn labelled(p: vec2<i32>) -> u32 {
    if (!inside(p)) {
        return 0u;
    }
    return textureLoad(mask_tex, p, 0).r;
}

@fragment
fn fs_main(@builtin(position) frag: vec4<f32>) -> @location(0) vec4<f32> {
    let q = (frag.xy - pane.origin) / pane.scale;
    let p = vec2<i32>(floor(q));
    if (q.x < 0.0 || q.y < 0.0 || !inside(p)) {
        discard;
    }
    var rgb = textureLoad(image_tex, p, 0).rgb;
    let cls = labelled(p);
    if (pane.map_layer >= 0) {
        let v = textureLoad(maps, p, pane.map_layer, 0).r;
        let t = u32(clamp(v, 0.0, 1.0) * 255.0 + 0.5);
        let heat = textureLoad(lut, vec2<i32>(i32(t), i32(pane.colormap)), 0).rgb;
        let sel = v >= pane.threshold;
        var a = pane.opacity;
        if (!sel) {
            a = a * 0.35;
        }
        rgb = mix(rgb, heat, a);
        if (sel && (pane.flags & 2u) != 0u) {
            let hit = cls != 0u;
            let c = select(vec3<f32>(0.95, 0.15, 0.15), vec3<f32>(0.15, 0.9, 0.25), hit);
            rgb = mix(rgb, c, 0.55);
        }
        if ((pane.flags & 1u) != 0u && sel) {
            // A selected pixel with an unselected 4-neighbour, drawn about 1.5 screen pixels wide.
            let d = max(1, i32(1.5 / pane.scale));
            if (!selected(p + vec2<i32>(d, 0)) || !selected(p - vec2<i32>(d, 0)) ||
                !selected(p + vec2<i32>(0, d)) || !selected(p - vec2<i32>(0, d))) {
                rgb = vec3<f32>(1.0, 1.0, 1.0);
            }
        }
    }
    if ((pane.flags & 4u) != 0u && cls != 0u) {
        let c = pane.class_colors[min(cls, 8u)].rgb;
        rgb = mix(rgb, c, pane.mask_opacity);
        if ((pane.flags & 8u) != 0u) {
            if (labelled(p + vec2<i32>(1, 0)) != cls || labelled(p - vec2<i32>(1, 0)) != cls ||
                labelled(p + vec2<i32>(0, 1)) != cls || labelled(p - vec2<i32>(0, 1)) != cls) {
                rgb = c;
            }
        }
    }
    return vec4<f32>(rgb, 1.0);
}
