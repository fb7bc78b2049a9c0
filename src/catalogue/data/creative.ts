// Creative work, media and culture. Written for jobbert; one title per line: en | de | es | zh
export default `
graphic designer | Grafikdesigner | diseñador gráfico | 平面设计师
art director | Art Director | director de arte | 艺术总监
creative director | Kreativdirektor | director creativo | 创意总监
illustrator | Illustrator | ilustrador | 插画师
animator | Animator | animador | 动画师
3D artist | 3D-Künstler | artista 3D | 3D美术师
motion designer | Motion Designer | diseñador de motion graphics | 动效设计师
product designer | Produktdesigner | diseñador de producto | 产品设计师
industrial designer | Industriedesigner | diseñador industrial | 工业设计师
fashion designer | Modedesigner | diseñador de moda | 服装设计师
jewellery designer | Schmuckdesigner | diseñador de joyas | 珠宝设计师
photographer | Fotograf | fotógrafo | 摄影师
video editor | Videoeditor | editor de vídeo | 视频剪辑师
cameraman | Kameramann | camarógrafo | 摄像师
film director | Filmregisseur | director de cine | 电影导演
film producer | Filmproduzent | productor de cine | 电影制片人
screenwriter | Drehbuchautor | guionista | 编剧
actor | Schauspieler | actor | 演员
musician | Musiker | músico | 音乐家
singer | Sänger | cantante | 歌手
composer | Komponist | compositor | 作曲家
dancer | Tänzer | bailarín | 舞蹈演员
sound engineer | Tontechniker | técnico de sonido | 音响工程师
lighting technician | Beleuchter | técnico de iluminación | 灯光师
stage manager | Inspizient | regidor de escena | 舞台监督
journalist | Journalist | periodista | 记者
editor | Redakteur | editor | 编辑
editor-in-chief | Chefredakteur | redactor jefe | 主编
news presenter | Nachrichtensprecher | presentador de noticias | 新闻主播
radio host | Radiomoderator | locutor de radio | 电台主持人
author | Schriftsteller | escritor | 作家
proofreader | Korrektor | corrector de textos | 校对员
publisher | Verleger | editor de libros | 出版人
blogger | Blogger | bloguero | 博主
influencer | Influencer | influencer | 网红
game designer | Spieledesigner | diseñador de videojuegos | 游戏策划
art restorer | Restaurator | restaurador de arte | 文物修复师
gallery manager | Galerieleiter | director de galería | 画廊经理
photojournalist | Fotojournalist | fotoperiodista | 摄影记者
reporter | Reporter | reportero | 采访记者
foreign correspondent | Auslandskorrespondent | corresponsal en el extranjero | 驻外记者
news editor | Nachrichtenredakteur | editor de noticias | 新闻编辑
sports journalist | Sportjournalist | periodista deportivo | 体育记者
podcast producer | Podcast-Produzent | productor de pódcast | 播客制作人
television producer | Fernsehproduzent | productor de televisión | 电视制片人
colourist | Colorist | etalonador | 调色师
visual effects artist | VFX-Artist | artista de efectos visuales | 视觉特效师
storyboard artist | Storyboard-Zeichner | artista de storyboard | 分镜画师
concept artist | Concept Artist | artista conceptual | 概念设计师
comic artist | Comiczeichner | dibujante de cómics | 漫画家
set designer | Bühnenbildner | escenógrafo | 舞台美术设计师
costume designer | Kostümbildner | diseñador de vestuario | 戏服设计师
theatre director | Theaterregisseur | director de teatro | 戏剧导演
choreographer | Choreograf | coreógrafo | 编舞
conductor | Dirigent | director de orquesta | 指挥家
music producer | Musikproduzent | productor musical | 音乐制作人
DJ | DJ | pinchadiscos | 打碟师
voice actor | Synchronsprecher | actor de doblaje | 配音演员
stunt performer | Stuntman | especialista de cine | 特技演员
casting director | Casting-Direktor | director de casting | 选角导演
broadcast technician | Rundfunktechniker | técnico de radiodifusión | 广播电视技术员
fashion stylist | Modestylist | estilista de moda | 时尚造型师
model | Model | modelo | 模特
circus artist | Zirkusartist | artista de circo | 马戏演员
magician | Zauberkünstler | mago | 魔术师
sculptor | Bildhauer | escultor | 雕塑家
visual artist | bildender Künstler | artista plástico | 视觉艺术家
subtitler | Untertitler | subtitulador | 字幕员
localisation specialist | Lokalisierungsspezialist | especialista en localización | 本地化专员
layout designer | Layouter | maquetador | 排版设计师
`;
