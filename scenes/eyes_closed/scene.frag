#version 330 core
// Eyes closed: almost black, with one huge, edgeless warm glow far in front of the face that breathes
// with the guide, like light seen through closed eyelids. It sits at a place in the world, set from
// the resting body (u_rest_forward / u_rest_up), so it is in front of the face in every posture.
in vec2 v_ndc;
out vec4 frag_color;

uniform float u_time;
uniform float u_breath;
uniform float u_calm;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
uniform vec3 u_head_pos;
uniform vec3 u_rest_forward;
uniform vec3 u_rest_up;

const float GLOW_DISTANCE = 9.0;  // metres in front of the face
const float HAZE_DEPTH = 30.0;

float hash12(vec2 p) {
    vec3 p3 = fract(vec3(p.xyx) * 0.1031);
    p3 += dot(p3, p3.yzx + 33.33);
    return fract((p3.x + p3.y) * p3.z);
}

// Light scattered toward the eye by an even haze lit from `c`, along the ray from `o` in direction `d`
// up to `far`: the closed form of the integral of 1 / distance^2, softened to `core` near the light.
float in_scatter(vec3 o, vec3 d, vec3 c, float core, float far) {
    float s = dot(c - o, d);
    float h = length(o + d * s - c);
    h = sqrt(h * h + core * core);
    return (atan((far - s) / h) + atan(s / h)) / h;
}

void main() {
    vec4 far_point = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 d = normalize(far_point.xyz / far_point.w - u_eye_pos);
    vec3 right = normalize(cross(u_rest_forward, u_rest_up));
    float breath = smoothstep(0.0, 1.0, clamp(u_breath, 0.0, 1.0));

    // The glow wanders a little over minutes; nothing here moves fast.
    vec3 wander = right * 0.35 * sin(u_time * 0.013) + u_rest_up * 0.25 * sin(u_time * 0.009 + 1.7);
    vec3 center = u_head_pos + u_rest_forward * GLOW_DISTANCE - u_rest_up * 0.6 + wander;
    float core = mix(3.2, 4.4, breath);  // a wide, soft heart: never a disc
    float power = mix(0.72, 1.0, breath) * mix(1.0, 0.85, u_calm);

    vec3 amber = mix(vec3(1.0, 0.42, 0.16), vec3(1.0, 0.30, 0.10), u_calm);
    vec3 deep_red = vec3(0.55, 0.10, 0.06);

    // The faintest warm gradient: a little lighter toward the feet, a touch redder off to the sides.
    float toward_feet = dot(d, -u_rest_up) * 0.5 + 0.5;
    vec3 col = deep_red * 0.00006 * (0.4 + toward_feet);

    float haze = in_scatter(u_eye_pos, d, center, core, HAZE_DEPTH);
    float facing = dot(d, normalize(center - u_eye_pos)) * 0.5 + 0.5;
    col += mix(deep_red, amber, smoothstep(0.6, 1.0, facing)) * power * 0.00075 * haze;

    col = 1.0 - exp(-col * 1.2);
    col = pow(col, vec3(1.0 / 2.2));
    // Triangular dither of one step: smooth gradients at these few code values, no banding.
    vec2 seed = gl_FragCoord.xy + fract(u_time) * 91.0;
    float dither = (hash12(seed) + hash12(seed + 17.3) - 1.0) / 255.0;
    frag_color = vec4(max(col + dither * step(0.5 / 255.0, col), 0.0) * clamp(u_fade, 0.0, 1.0), 1.0);
}
